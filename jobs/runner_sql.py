"""The worker's common path on PostgreSQL: a claim in one statement, a success in two.

`jobs.runner.claim` and `jobs.runner.finish` with the ORM take seven or eight round trips
each (begin, lock the job, update the run, read it back, update the job, settle its
status, commit). At hundreds of runs per second that was most of the worker's time
(docs/benchmarks.md). For the cases that make up nearly all runs, these statements do
the same work in one round trip each (plus the lock and the commit of `finish`):

- claim, concurrency `allow`: move the run pending -> running if its job's revision is
  unchanged, mark the job `running`, and return what the executor needs.
- finish, outcome `succeeded` of a job that is not failing: record it if the run is still
  `running`, set the job's `last_run`, its health `ok` and settle its status by the rules
  of jobs/settle.py; the fire's `success` event goes out as jobs/health.py sends it.

The threads of a worker process share these statements (jobs/batching.py): the claims
that wait while one is in flight go together as the next statement, and so do the
successes. Under load one statement serves many runs; an idle worker sends each at once.

Anything else (forbid, replace, stale or duplicate messages, failures that may retry, a
success that is a recovery, runs canceled or lost meanwhile) returns None and the caller
takes the ORM path, which decides as before. SQLite keeps the ORM path (single machine,
modest rates).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from . import pg
from .batching import Batcher
from .models import Event, Job, Run, RunStatus
from .pgarray import array_literal
from .signals import FireEnd, send_fires_ended

CLAIM_SQL = """
WITH i AS (
    SELECT * FROM unnest(%(ids)s::uuid[], %(workers)s::text[]) AS i(id, worker)
), r AS (
    UPDATE jobs_run AS r
    SET status = 'running', started_at = %(now)s, heartbeat_at = %(now)s, worker = i.worker
    FROM i, jobs_job AS j
    WHERE r.id = i.id AND r.status = 'pending' AND j.id = r.job_id
      AND j.revision = r.job_revision AND j.concurrency = 'allow'
    RETURNING r.id, r.job_id, r.job_revision, r.due_at, r.attempt, r.trigger,
              r.idempotency_key, r.queued_at, j.type, j.task, j.payload, j.timeout,
              j.concurrency, j.revision, j.owner_id
), s AS (
    UPDATE jobs_job SET status = 'running' FROM r
    WHERE jobs_job.id = r.job_id AND jobs_job.status = 'scheduled'
)
SELECT * FROM r
"""

# The job rows are locked first (LOCK_JOBS_SQL, its own statement), so that each status is
# settled from a snapshot taken after any other finish of the same job committed: two runs
# of one job ending at once must not both see the other still running. For the same reason
# a batch holds at most one run per job (jobs.batching: `key`). A job locked elsewhere
# (another finish, the dispatcher planning its next fire) is skipped, not waited for: its
# run takes the ORM path, which waits on its own, and the runs of other jobs in the batch
# are not held up behind it.
LOCK_JOBS_SQL = """
SELECT id FROM jobs_job WHERE id = ANY(%s::uuid[]) ORDER BY id FOR NO KEY UPDATE SKIP LOCKED
"""

SUCCEED_SQL = """
WITH i AS (
    SELECT * FROM unnest(%(ids)s::uuid[], %(results)s::jsonb[], %(errors)s::text[],
                         %(nows)s::timestamptz[]) AS i(id, result, error, now)
), r AS (
    UPDATE jobs_run AS r
    SET status = 'succeeded', result = i.result, error = i.error,
        finished_at = i.now, heartbeat_at = i.now
    FROM i, jobs_job AS f
    WHERE r.id = i.id AND r.status = 'running' AND f.id = r.job_id AND f.health <> 'failing'
    RETURNING r.id, r.job_id
), j AS (
    UPDATE jobs_job AS j SET last_run_id = r.id, health = 'ok', status = CASE
        WHEN j.status NOT IN ('scheduled', 'running') THEN j.status
        WHEN EXISTS (SELECT 1 FROM jobs_run x
                     WHERE x.job_id = j.id AND x.status = 'running' AND x.id <> r.id)
            THEN 'running'
        WHEN j.next_run_at IS NOT NULL OR EXISTS (
            SELECT 1 FROM jobs_run x WHERE x.job_id = j.id AND x.status = 'pending')
            THEN 'scheduled'
        WHEN j.schedule_kind <> 'once' THEN 'completed'
        ELSE 'succeeded' END
    FROM r WHERE j.id = r.job_id
    RETURNING r.id AS run_id, j.id AS job_id, j.owner_id, j.product, j."group"
)
SELECT run_id, job_id, owner_id, product, "group" FROM j
"""


# Prepared statements on Django's connection (jobs/pg.py).
enabled, _cursor, _execute = pg.enabled, pg.cursor, pg.execute


def claim(run_id: str, worker: str) -> Run | None:
    """Claim an `allow` run, with the claims of other threads; None: take the ORM path."""
    return _claims.submit((str(run_id), worker))


def succeed(run: Run, result: dict, error: str, now) -> bool:
    """Record a success and settle the job, with other threads'; False: take the ORM path."""
    return _successes.submit((run, result, error, now))


def _claim_batch(items: Sequence[tuple[str, str]]) -> list[Run | None]:
    now = timezone.now()
    params = {
        "now": now,
        "ids": array_literal(i for i, _ in items),
        "workers": array_literal(w for _, w in items),
    }
    with _cursor() as cursor:
        _execute(cursor, CLAIM_SQL, params)
        names = [column.name for column in cursor.description]
        claimed = {str(row[0]): dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    return [_claimed_run(claimed[i], now) if i in claimed else None for i, _ in items]


def _claimed_run(values: dict, now) -> Run:
    for key in ("task", "payload"):  # Django's psycopg set-up hands jsonb over as text
        if isinstance(values[key], str):
            values[key] = json.loads(values[key])
    job = Job(
        id=values["job_id"],
        type=values["type"],
        task=values["task"],
        payload=values["payload"],
        timeout=values["timeout"],
        concurrency=values["concurrency"],
        revision=values["revision"],
        owner_id=values["owner_id"],  # the run's egress depends on the owner's permissions
    )
    return Run(
        id=values["id"],
        job=job,
        job_revision=values["job_revision"],
        due_at=values["due_at"],
        attempt=values["attempt"],
        trigger=values["trigger"],
        idempotency_key=values["idempotency_key"],
        status=RunStatus.RUNNING,
        queued_at=values["queued_at"],
        started_at=now,
        heartbeat_at=now,
    )


def _succeed_batch(items: Sequence[tuple[Run, dict, str, object]]) -> list[bool]:
    encoder = Run._meta.get_field("result").encoder
    with transaction.atomic(), _cursor() as cursor:
        _execute(
            cursor, LOCK_JOBS_SQL, [array_literal(sorted({str(run.job_id) for run, *_ in items}))]
        )
        locked = {str(row[0]) for row in cursor.fetchall()}
        mine = [item for item in items if str(item[0].job_id) in locked]
        if not mine:
            return [False] * len(items)
        params = {
            "ids": array_literal(run.id for run, *_ in mine),
            "results": array_literal(json.dumps(result, cls=encoder) for _, result, _, _ in mine),
            "errors": array_literal(error for _, _, error, _ in mine),
            "nows": array_literal(now for *_, now in mine),
        }
        _execute(cursor, SUCCEED_SQL, params)
        rows = cursor.fetchall()
        send_fires_ended([_success(*row) for row in rows])
    done = {str(row[0]) for row in rows}
    return [str(run.id) in done for run, *_ in items]


def _success(run_id, job_id, owner_id, product, group) -> FireEnd:
    return FireEnd(
        job_id=job_id,
        owner_id=owner_id,
        product=product,
        group=group,
        run_id=run_id,
        status=RunStatus.SUCCEEDED,
        events=(Event.SUCCESS,),
        failures=0,
    )


_claims: Batcher[tuple[str, str], Run | None] = Batcher(_claim_batch, key=lambda item: item[0])
_successes: Batcher[tuple[Run, dict, str, object], bool] = Batcher(
    _succeed_batch, key=lambda item: str(item[0].job_id)
)
