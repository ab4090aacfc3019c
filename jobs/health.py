"""The end of a fire: the job's health, its count of failed fires, auto-pause, events.

A fire ends when its last attempt has an outcome and no other attempt follows: a success,
a failure, time-out or veto with no retry left, a skip (concurrency `forbid`) or a miss
(past the misfire grace). Call `fire_ended` in the transaction that records that outcome,
with the job's row locked, so that two fires of one job ending at once count one after the
other. Events go out through jobs.signals (the notifications outbox listens), in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from .models import Event, Health, Job, RunStatus
from .pausing import pause_locked
from .signals import FireEnd, send_fires_ended

# The outcomes of a fire that count as a failure.
FAILED_FIRE = frozenset((RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.VETOED))


def fire_ended(job: Job, run_id, status: str, *, now: datetime, also: dict | None = None) -> None:
    """Record the end of run `run_id`'s fire on `job` (locked, loaded in full); send events.

    `also`: other columns of the job the caller writes (the finish's `last_run`), in the
    same UPDATE as the health: one write of the job row, not two.

    A failure adds to `consecutive_failures` and makes the job `failing`; once the count
    reaches `pause_after_failures`, a recurring job still active is paused (`paused`). A
    success makes it `ok` and, when it was failing, is a `recovery`. Skips and misses
    change neither.
    """
    events: list[str] = []
    changes = dict(also or {})
    if status in FAILED_FIRE:
        job.consecutive_failures += 1
        job.health = Health.FAILING
        events.append(Event.FAILURE)
        limit = job.pause_after_failures
        if limit and job.is_recurring and job.consecutive_failures >= limit:
            reason = f"Paused after {job.consecutive_failures} failed fires in a row."
            if pause_locked(job, now=now, reason=reason):
                events.append(Event.PAUSED)
        changes.update(health=job.health, consecutive_failures=job.consecutive_failures)
    elif status == RunStatus.SUCCEEDED:
        if job.health == Health.FAILING:
            events.append(Event.RECOVERY)
        events.append(Event.SUCCESS)
        job.health, job.consecutive_failures = Health.OK, 0
        changes.update(health=Health.OK, consecutive_failures=0)
    elif status == RunStatus.SKIPPED:
        events.append(Event.SKIPPED)
    elif status == RunStatus.MISSED:
        events.append(Event.MISSED)
    if changes:
        Job.objects.filter(id=job.id).update(**changes)
    send_fires_ended([_end(job, run_id, status, events)])


def fires_missed(jobs_and_runs: Iterable[tuple[Job, object]]) -> None:
    """Send `missed` for fires recorded missed (the dispatcher's batch); health unchanged."""
    send_fires_ended(
        [_end(job, run_id, RunStatus.MISSED, [Event.MISSED]) for job, run_id in jobs_and_runs]
    )


def _end(job: Job, run_id, status: str, events: list[str]) -> FireEnd:
    return FireEnd(
        job_id=job.id,
        owner_id=job.owner_id,
        product=job.product,
        group=job.group,
        run_id=run_id,
        status=status,
        events=tuple(events),
        failures=job.consecutive_failures,
    )
