"""bench.tuned_app plus a run recorded in two statements instead of fifteen (bench-only).

`celery -A bench.tuned_sql_app worker ...` runs the product's worker with the connection
reuse of bench/tuned_app.py, and with `jobs.runner.claim` / `jobs.runner.finish` replaced,
in this process only, by set-based versions for the common case:

- claim: one `UPDATE jobs_run ... FROM jobs_job ... RETURNING` moves the run
  pending -> running when the job's revision is unchanged and its concurrency is `allow`,
  and a second CTE marks the job `running`; it returns what the executor needs. Any
  other case (forbid, replace, a stale or duplicate message) falls back to the product's
  claim, which decides as before.
- finish: for a `succeeded` outcome, one statement records the outcome (conditional on
  `running`), sets the job's `last_run` and settles its status (the rules of
  jobs/settle.py in SQL). Anything else (failures that may retry, a run canceled or lost
  meanwhile) falls back to the product's finish.

Measured by `make bench` (end-to-end, "prototype" rows) to show what the change buys
before it is made in jobs/runner.py.
"""

from __future__ import annotations

import json

import django
from django.db import connection
from django.utils import timezone
from psycopg.types.json import Jsonb

from .tuned_app import app  # the product's app (sets DJANGO_SETTINGS_MODULE)

django.setup()  # before the models are imported; Celery's Django fixup tolerates it

from jobs import runner  # noqa: E402
from jobs.models import Job, Run, RunStatus  # noqa: E402

_claim, _finish = runner.claim, runner.finish

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

FINISH_SQL = """
WITH r AS (
    UPDATE jobs_run
    SET status = %(status)s, result = %(result)s, error = %(error)s,
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


def claim(run_id: str) -> Run | None:
    with connection.cursor() as cursor:
        cursor.execute(
            CLAIM_SQL, {"now": timezone.now(), "worker": runner.worker_name(), "id": run_id}
        )
        row = cursor.fetchone()
        names = [c.name for c in cursor.description] if row else []
    if row is None:
        return _claim(run_id)
    values = dict(zip(names, row, strict=True))
    for key in ("task", "payload"):  # Django's psycopg setup leaves jsonb as text
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
    run = Run(
        id=values["id"],
        job=job,
        job_revision=values["job_revision"],
        due_at=values["due_at"],
        attempt=values["attempt"],
        trigger=values["trigger"],
        idempotency_key=values["idempotency_key"],
        status=RunStatus.RUNNING,
        queued_at=values["queued_at"],
    )
    return run


def finish(run: Run, outcome) -> bool:
    if outcome.status != RunStatus.SUCCEEDED:
        return _finish(run, outcome)
    with connection.cursor() as cursor:
        cursor.execute(
            FINISH_SQL,
            {
                "status": outcome.status,
                "result": Jsonb(outcome.result),
                "error": outcome.error[:4000],
                "now": timezone.now(),
                "id": run.id,
            },
        )
        done = cursor.fetchone()
    if done is None:  # no longer running (canceled, lost): the product's rules
        return _finish(run, outcome)
    return True


runner.claim = claim
runner.finish = finish

__all__ = ["app"]
