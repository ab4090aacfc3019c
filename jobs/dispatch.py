"""The dispatcher: plan due fires into runs, one run per fire, and publish them.

Driven by beat every DISPATCH_INTERVAL seconds. Its cost is proportional to the
fires due, not to the number of jobs: it reads the partial index on
`next_run_at`. On PostgreSQL, `FOR UPDATE SKIP LOCKED` lets several dispatchers
share the work; the unique key (job, due_at, attempt) makes a double plan fail
rather than fire twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Job, Run, RunStatus, Trigger
from .publish import publish
from .settle import settle_jobs
from .timing import following_fire, schedule_of, within_limits

log = logging.getLogger(__name__)


def dispatch(now: datetime | None = None) -> int:
    """Plan and publish every fire due within the lookahead; return runs published."""
    total = 0
    while True:
        planned = plan_due_fires(now)
        total += planned
        if planned < settings.SCHED["DISPATCH_BATCH"]:
            break
    total += publish_due_attempts(now)
    return total


def _grace(job: Job) -> timedelta:
    seconds = job.misfire_grace
    if seconds is None:
        seconds = settings.SCHED["DEFAULT_MISFIRE_GRACE"]
    return timedelta(seconds=seconds)


def _fire_for(job: Job, now: datetime) -> datetime:
    """The fire to plan now: a recurring job late by several fires runs once, for the latest."""
    due = job.next_run_at
    if job.is_recurring and due < now:
        # The latest fire the job still has: not after its end_at. Looking only up to `now`
        # found, after a downtime that outlasted end_at, a latest fire past end_at, fell
        # back to the oldest missed fire, and then planned every missed fire up to end_at
        # one after another: a burst (found by tests/faults/test_beats.py).
        until = now if job.end_at is None else min(now, job.end_at)
        latest = schedule_of(job).last_fire_at_or_before(until, anchor=job.anchor_at)
        if latest is not None and latest > due and within_limits(job, latest):
            return latest
    return due


def plan_due_fires(now: datetime | None = None) -> int:
    """Plan one batch of due jobs; return how many fires it planned."""
    now = now or timezone.now()
    horizon = now + timedelta(seconds=settings.SCHED["DISPATCH_LOOKAHEAD"])
    batch = settings.SCHED["DISPATCH_BATCH"]
    with transaction.atomic():
        jobs = list(
            Job.objects.select_for_update(skip_locked=True, no_key=True)
            .filter(next_run_at__isnull=False, next_run_at__lte=horizon)
            .order_by("next_run_at")[:batch]
        )
        if not jobs:
            return 0
        runs: list[Run] = []
        for job in jobs:
            due = _fire_for(job, now)
            status = RunStatus.PENDING
            error = ""
            if now - due > _grace(job):
                status, error = RunStatus.MISSED, "Started too late: past the misfire grace."
            run = Run(
                job=job,
                job_revision=job.revision,
                due_at=due,
                attempt=1,
                trigger=Trigger.SCHEDULE,
                status=status,
                error=error,
                queued_at=now if status == RunStatus.PENDING else None,
                finished_at=None if status == RunStatus.PENDING else now,
            )
            run.idempotency_key = run.id
            runs.append(run)
            job.fire_count += 1
            job.next_run_at = following_fire(job, due) if job.is_recurring else None
        _insert_runs(runs)
        Job.objects.bulk_update(jobs, ["next_run_at", "fire_count"])
        finished_jobs = [r.job_id for r in runs if r.status != RunStatus.PENDING]
        done_jobs = [j.id for j in jobs if j.next_run_at is None]
        settle_jobs(set(finished_jobs) | set(done_jobs))
    publish((r.id, r.job.type, r.due_at) for r in runs if r.status == RunStatus.PENDING)
    return len(jobs)


def _insert_runs(runs: list[Run]) -> None:
    """Insert all runs; on a conflict, insert one by one and drop the duplicates."""
    try:
        with transaction.atomic():
            Run.objects.bulk_create(runs)
    except IntegrityError:
        kept = []
        for run in runs:
            try:
                with transaction.atomic():
                    run.save(force_insert=True)
                kept.append(run)
            except IntegrityError:
                log.info("fire already planned job=%s due=%s", run.job_id, run.due_at)
        runs[:] = kept


def publish_due_attempts(now: datetime | None = None) -> int:
    """Publish retry and recovery attempts that are due within the lookahead."""
    now = now or timezone.now()
    horizon = now + timedelta(seconds=settings.SCHED["DISPATCH_LOOKAHEAD"])
    with transaction.atomic():
        runs = list(
            Run.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("job")
            .filter(status=RunStatus.PENDING, queued_at__isnull=True, due_at__lte=horizon)
            .order_by("due_at")[: settings.SCHED["DISPATCH_BATCH"]]
        )
        if not runs:
            return 0
        Run.objects.filter(id__in=[r.id for r in runs]).update(queued_at=now)
    return publish((r.id, r.job.type, r.due_at) for r in runs)
