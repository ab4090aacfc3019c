"""Writes on jobs: each function is one transaction and takes keyword arguments only."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from django.db import transaction
from django.utils import timezone

from executors.registry import get_executor
from notifications.services import set_job_rules

from . import idempotency
from .inserts import insert
from .models import ACTIVE_JOB_STATUSES, Job, JobStatus, Run, RunStatus, Trigger
from .pausing import cancel_pending, pause_locked
from .publish import publish_runs
from .quotas import check_active_jobs
from .retry import parse_retry
from .schedules import Schedule
from .settle import end_unplannable, settle_jobs
from .timing import following_fire, within_limits


class JobConflict(Exception):
    """The job's state does not allow this change (e.g. it is canceled)."""


SCHEDULE_FIELDS = ("schedule", "timezone", "start_at", "end_at", "max_runs")
PLAIN_FIELDS = (
    "name",
    "product",
    "group",
    "task",
    "payload",
    "timeout",
    "retry",
    "concurrency",
    "misfire_grace",
    "pause_after_failures",
)
# What a change of these alone leaves alone: the job's planned fires and pending runs
# (who is told of the job's fires, and when failures pause it, not what it runs or when).
WATCH_FIELDS = frozenset(("notify", "pause_after_failures"))


def _apply(job: Job, data: dict[str, Any]) -> None:
    for field in PLAIN_FIELDS:
        if field in data:
            setattr(job, field, data[field])
    if "task" in data:
        job.type = data["task"]["type"]
        job.task = get_executor(job.type).prepare(data["task"])
    if "retry" in data:
        job.retry = (data["retry"] or parse_retry(None)).to_json()
    for field in ("timezone", "start_at", "end_at", "max_runs"):
        if field in data:
            setattr(job, field, data[field])
    if "schedule" in data:
        schedule: Schedule = data["schedule"]
        job.schedule = schedule.to_json()
        job.schedule_kind = schedule.kind
        job.schedule_text = schedule.describe()


def _new_run(job: Job, *, due_at: datetime, trigger: str, now: datetime) -> Run:
    run = Run(
        job=job,
        job_revision=job.revision,
        due_at=due_at,
        attempt=1,
        trigger=trigger,
        status=RunStatus.PENDING,
        queued_at=now,
    )
    run.idempotency_key = run.id
    run.save(force_insert=True)
    transaction.on_commit(lambda: publish_runs([run]))
    return run


def _arm(job: Job, *, now: datetime, first: datetime | None, new: bool = False) -> bool:
    """Set the job's next fire and save the job (insert it if `new`); a one-off job due
    now gets its run at once. Whether it got one."""
    save = (lambda: insert(job)) if new else job.save
    if not job.is_recurring and first is not None and first <= now:
        job.next_run_at = None
        job.fire_count += 1
        save()
        _new_run(job, due_at=first, trigger=Trigger.SCHEDULE, now=now)
        return True
    job.next_run_at = first if within_limits(job, first) else None
    save()
    if not (new and job.next_run_at is not None):  # a new job with a fire to come: scheduled
        settle_jobs([job.id])
    return False


def _first_fire(job: Job, now: datetime) -> datetime | None:
    schedule = Schedule.from_json(job.schedule, timezone=job.timezone)
    return schedule.first_fire(now=now, start_at=job.start_at)


@transaction.atomic
def job_create(*, owner, data: dict[str, Any], job_id: UUID | None = None) -> Job:
    """Create a job (with `job_id`, else a new one: jobs/idempotency.py names it first)."""
    return _create(owner=owner, data=data, job_id=job_id)


def _create(*, owner, data: dict[str, Any], job_id: UUID | None) -> Job:
    """job_create's work, inside the caller's transaction. The new job comes back with
    what its representation would query known: its runs counted, its notify rules read
    only if it has some."""
    check_active_jobs(owner)
    now = timezone.now()
    data = {"retry": parse_retry(None), **data}
    job = Job(owner=owner, timezone=data.get("timezone", "UTC"))
    if job_id is not None:
        job.id = job_id
    _apply(job, data)
    job.anchor_at = _first_fire(job, now)
    ran = _arm(job, now=now, first=job.anchor_at, new=True)
    job.run_counts = {"runs": int(ran), "succeeded": 0, "failed": 0}
    if data.get("notify"):
        set_job_rules(job=job, rules=data["notify"])
    else:  # what prefetch_related("notify_rules") would have found: none (as it stores it)
        rules = job.notify_rules.all()
        rules._result_cache, rules._prefetch_done = [], True
        job._prefetched_objects_cache = {"notify_rules": rules}
    return job


@transaction.atomic
def job_create_once(
    *, owner, data: dict[str, Any], key: str | None = None, fingerprint: str = ""
) -> tuple[Job, bool]:
    """Create a job, under an Idempotency-Key if `key` is given (jobs/idempotency.py):
    (the job, False); or (the job another request with the key created first, True).
    The key and the job are written in this one transaction."""
    if key is None:
        return _create(owner=owner, data=data, job_id=None), False
    job_id = uuid4()
    earlier = idempotency.claim(owner=owner, key=key, fingerprint=fingerprint, job_id=job_id)
    if earlier is not None:
        return earlier, True
    return _create(owner=owner, data=data, job_id=job_id), False


def _locked(job: Job, *, refuse_canceled: str | None = None) -> Job:
    """The job reloaded under its row lock (inside the caller's transaction), so that the
    change is decided on its current state; JobConflict(refuse_canceled) if it is canceled
    and the caller refuses that."""
    job = Job.objects.select_for_update(no_key=True).get(pk=job.pk)
    if refuse_canceled is not None and job.status == JobStatus.CANCELED:
        raise JobConflict(refuse_canceled)
    return job


@transaction.atomic
def job_update(*, job: Job, data: dict[str, Any]) -> Job:
    """Change a job. Any change invalidates fires planned under the old values, but one of
    WATCH_FIELDS alone (`notify` replaces the job's rules)."""
    job = _locked(job, refuse_canceled="The job is canceled; create a new one.")
    now = timezone.now()
    data = _without_unchanged_schedule(job, data)
    if "notify" in data:
        set_job_rules(job=job, rules=data["notify"])
    _apply(job, data)
    if data.keys() <= WATCH_FIELDS:
        job.save(update_fields=["pause_after_failures", "updated_at"])
        return job
    job.revision += 1
    unplanned = cancel_pending(job, "The job changed after this run was planned.", now)
    rescheduled = any(field in data for field in SCHEDULE_FIELDS)
    if rescheduled:
        job.anchor_at = _first_fire(job, now)
        job.status_reason = ""
    if job.status == JobStatus.PAUSED:
        job.save()
        return job
    if rescheduled:
        if job.status not in ACTIVE_JOB_STATUSES:
            job.status = JobStatus.SCHEDULED
        _arm(job, now=now, first=job.anchor_at)
    else:
        # Same schedule: a fire that was planned and canceled above is planned again
        # under the new revision, with the new values.
        if unplanned:
            job.next_run_at = unplanned[0]
            if job.status not in ACTIVE_JOB_STATUSES:
                job.status = JobStatus.SCHEDULED
        job.save()
        settle_jobs([job.id])
    job.refresh_from_db()
    return job


def _without_unchanged_schedule(job: Job, data: dict[str, Any]) -> dict[str, Any]:
    """`data` without its schedule fields when each holds the job's current value: sending
    a job's schedule back as it is (the browsable API's PATCH form, one other field edited)
    must not plan it anew, which for a one-off job already fired would fire it again."""
    sent = [field for field in SCHEDULE_FIELDS if field in data]
    if not sent:
        return data
    for field in sent:
        value = data[field].to_json() if field == "schedule" else data[field]
        if value != getattr(job, field):
            return data
    return {key: value for key, value in data.items() if key not in SCHEDULE_FIELDS}


@transaction.atomic
def job_cancel(*, job: Job) -> Job:
    """Stop all further fires; the job and its history stay."""
    job = _locked(job)
    if job.status != JobStatus.CANCELED:
        now = timezone.now()
        job.status = JobStatus.CANCELED
        job.next_run_at = None
        job.revision += 1
        cancel_pending(job, "The job was canceled.", now)
        job.save()
    return job


@transaction.atomic
def job_pause(*, job: Job) -> Job:
    job = _locked(job, refuse_canceled="The job is canceled.")
    pause_locked(job, now=timezone.now())
    return job


@transaction.atomic
def job_resume(*, job: Job) -> Job:
    """Resume a paused job from now: fires that fell in the pause are skipped.

    The count of failed fires starts again (pause_after_failures counts from here); the
    health stays `failing` until a fire succeeds."""
    job = _locked(job, refuse_canceled="The job is canceled.")
    if job.status != JobStatus.PAUSED:
        return job
    now = timezone.now()
    job.status = JobStatus.SCHEDULED
    job.status_reason = ""
    job.consecutive_failures = 0
    if job.is_recurring:
        first = job.anchor_at if job.anchor_at and job.anchor_at > now else None
        try:
            first = first or following_fire(job, now)
        except Exception as exc:  # a stored schedule that cannot be computed ends the job
            job.save()
            end_unplannable(job.id, exc)
            job.refresh_from_db()
            return job
        job.next_run_at = first if within_limits(job, first) else None
        job.save()
        settle_jobs([job.id])
    elif job.fire_count == 0:
        _arm(job, now=now, first=max(job.anchor_at or now, now))
    else:
        job.save()
        settle_jobs([job.id])
    job.refresh_from_db()
    return job


@transaction.atomic
def job_run_now(*, job: Job) -> Run:
    """Start a manual run of the job at once, outside its schedule."""
    job = _locked(job, refuse_canceled="The job is canceled.")
    now = timezone.now()
    return _new_run(job, due_at=now, trigger=Trigger.MANUAL, now=now)
