"""Stopping a job's planned fires: pausing it (by its owner or by its failures).

Shared ground: the API's writes (jobs/services.py) and the end of a failed fire
(jobs/health.py, `pause_after_failures`) both pause a job here.
"""

from __future__ import annotations

from datetime import datetime

from .models import ACTIVE_JOB_STATUSES, Job, JobStatus, Run, RunStatus, Trigger


def cancel_pending(job: Job, reason: str, now: datetime) -> list[datetime]:
    """Cancel the job's pending runs; give back its planned fires, which no longer count."""
    pending = Run.objects.filter(job=job, status=RunStatus.PENDING)
    fires = sorted(
        due
        for trigger, attempt, due in pending.values_list("trigger", "attempt", "due_at")
        if trigger == Trigger.SCHEDULE and attempt == 1
    )
    pending.update(status=RunStatus.CANCELED, finished_at=now, error=reason)
    job.fire_count -= len(fires)
    return fires


def pause_locked(job: Job, *, now: datetime, reason: str = "") -> bool:
    """Pause an active job whose row the caller's transaction has locked; saves it.

    No further fire is planned, planned ones are canceled, and runs already running go
    on. Returns whether it paused the job (False: it was not active)."""
    if job.status not in ACTIVE_JOB_STATUSES:
        return False
    job.status = JobStatus.PAUSED
    job.status_reason = reason
    job.next_run_at = None
    job.revision += 1
    cancel_pending(job, "The job was paused.", now)
    job.save()
    return True
