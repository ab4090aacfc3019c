"""The worker's common path on PostgreSQL: a claim in one statement, a success in two.

`jobs.runner.claim` and `jobs.runner.finish` with the ORM take seven or eight round trips
each (begin, lock the job, update the run, read it back, update the job, settle its
status, commit). At hundreds of runs per second that was most of the worker's time
(docs/benchmarks.md). For the cases that make up nearly all runs, these statements do
the same work in one round trip each (plus the lock and the commit of `finish`):

- claim, concurrency `allow`: move the run pending -> running if its job's revision is
  unchanged, mark the job `running`, and return what the executor needs.
- finish, outcome `succeeded`: record it if the run is still `running`, set the job's
  `last_run` and settle its status by the rules of jobs/settle.py.

Anything else (forbid, replace, stale or duplicate messages, failures that may retry,
runs canceled or lost meanwhile) returns None and the caller takes the ORM path, which
decides as before. SQLite keeps the ORM path (single machine, modest rates).
"""

from __future__ import annotations

import json
from contextlib import contextmanager

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .models import Job, Run, RunStatus

CLAIM_SQL = """
WITH r AS (
    UPDATE jobs_run AS r
    SET status = 'running', started_at = %(now)s, heartbeat_at = %(now)s, worker = %(worker)s
    FROM jobs_job AS j
    WHERE r.id = %(id)s AND r.status = 'pending' AND j.id = r.job_id
      AND j.revision = r.job_revision AND j.concurrency = 'allow'
    RETURNING r.id, r.job_id, r.job_revision, r.due_at, r.attempt, r.trigger,
              r.idempotency_key, r.queued_at, j.type, j.task, j.payload, j.timeout,
              j.concurrency, j.revision
), s AS (
    UPDATE jobs_job SET status = 'running' FROM r
    WHERE jobs_job.id = r.job_id AND jobs_job.status = 'scheduled'
)
SELECT * FROM r
"""

# The job row is locked first (LOCK_JOB_SQL, its own statement), so that the status is
# settled from a snapshot taken after any other finish of the same job committed: two
# runs of one job ending at once must not both see the other still running.
LOCK_JOB_SQL = "SELECT 1 FROM jobs_job WHERE id = %s FOR NO KEY UPDATE"

SUCCEED_SQL = """
WITH r AS (
    UPDATE jobs_run
    SET status = 'succeeded', result = %(result)s, error = %(error)s,
        finished_at = %(now)s, heartbeat_at = %(now)s
    WHERE id = %(id)s AND status = 'running'
    RETURNING id, job_id
)
UPDATE jobs_job AS j SET last_run_id = r.id, status = CASE
    WHEN j.status NOT IN ('scheduled', 'running') THEN j.status
    WHEN EXISTS (SELECT 1 FROM jobs_run x
                 WHERE x.job_id = j.id AND x.status = 'running' AND x.id <> r.id) THEN 'running'
    WHEN j.next_run_at IS NOT NULL OR EXISTS (
        SELECT 1 FROM jobs_run x WHERE x.job_id = j.id AND x.status = 'pending') THEN 'scheduled'
    WHEN j.schedule_kind <> 'once' THEN 'completed'
    ELSE 'succeeded' END
FROM r WHERE j.id = r.job_id
RETURNING j.id
"""


def enabled() -> bool:
    return connection.vendor == "postgresql"


@contextmanager
def _cursor():
    """A cursor of Django's connection that binds parameters on the server.

    With DB_PREPARED_STATEMENTS (the default), these statements are prepared once per
    connection: PostgreSQL then no longer parses and plans them for every run. Django's
    own cursors bind on the client and never prepare (for poolers before PgBouncer 1.21,
    which lose prepared statements between transactions: set DB_PREPARED_STATEMENTS=0).
    Errors come out as Django's (OperationalError...), like those of its cursors.
    """
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def _execute(cursor, sql: str, params) -> None:
    cursor.execute(sql, params, prepare=settings.DB_PREPARED_STATEMENTS or None)


def claim(run_id: str, worker: str) -> Run | None:
    """Claim an `allow` run in one statement; None means: take the ORM path."""
    now = timezone.now()
    with _cursor() as cursor:
        _execute(cursor, CLAIM_SQL, {"now": now, "worker": worker, "id": run_id})
        row = cursor.fetchone()
        if row is None:
            return None
        values = dict(zip((c.name for c in cursor.description), row, strict=True))
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


def succeed(run: Run, result: dict, error: str, now) -> bool:
    """Record a success and settle the job; False means: take the ORM path."""
    result_field = Run._meta.get_field("result")
    with transaction.atomic(), _cursor() as cursor:
        _execute(cursor, LOCK_JOB_SQL, [run.job_id])
        _execute(
            cursor,
            SUCCEED_SQL,
            {
                "result": result_field.get_db_prep_save(result, connection),
                "error": error,
                "now": now,
                "id": run.id,
            },
        )
        return cursor.fetchone() is not None
