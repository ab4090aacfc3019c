"""The next attempt of a fire: a retry after a failure, a recovery after a lost run.

Both sides plan attempts: the worker after an outcome (retries), beat's reaper after a
lost run (recoveries); neither imports the other, both import this.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction

from .models import ACTIVE_JOB_STATUSES, Job, Run, RunStatus, Trigger
from .retry import RetryPolicy
from .settle import end_unplannable


def plan_next_attempt(job: Job, run: Run, trigger: str, *, now) -> Run | None:
    """Create the next attempt of a fire, if the job still wants it."""
    if job.status not in ACTIVE_JOB_STATUSES or job.revision != run.job_revision:
        return None
    try:
        policy = RetryPolicy.from_json(job.retry or None)
        if trigger == Trigger.RETRY:
            if not policy.can_retry(run.attempt):
                return None
            due = now + policy.delay_after(run.attempt)
        else:  # recovery of a lost run: always, at once
            due = now
    except Exception as exc:  # a policy that cannot be read or computed ends this job only
        end_unplannable(job.id, exc)
        return None
    # The unique key (job, revision, due time, attempt) holds across the job's fires: two
    # fires of one job lost in one pass can both be planned at the pass's `now`. Another
    # due time a microsecond later is the same moment for the attempt; a savepoint keeps
    # the caller's transaction usable after the conflict (docs/design.md).
    for nudge in range(1000):
        try:
            with transaction.atomic():
                return Run.objects.create(
                    job=job,
                    job_revision=job.revision,
                    due_at=due + timedelta(microseconds=nudge),
                    attempt=run.attempt + 1,
                    trigger=trigger,
                    idempotency_key=run.idempotency_key,
                    status=RunStatus.PENDING,
                )
        except IntegrityError:
            continue
    raise IntegrityError(f"no free due time for attempt {run.attempt + 1} of run {run.id}")
