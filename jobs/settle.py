"""Derive a job's status from its schedule and its runs."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db.models import Count, Q

from .models import ACTIVE_JOB_STATUSES, Job, JobStatus, Run, RunStatus

log = logging.getLogger(__name__)


def settle_jobs(job_ids: Iterable) -> None:
    """Recompute the status of active jobs; call inside the transaction that changed them.

    running: a run is running. scheduled: a fire or an attempt is still to come.
    Otherwise a one-off job takes the outcome of its last attempt and a recurring
    job is completed. Paused and canceled jobs keep their status.
    """
    ids = list(job_ids)
    if not ids:
        return
    jobs = Job.objects.filter(id__in=ids, status__in=ACTIVE_JOB_STATUSES).annotate(
        n_running=Count("runs", filter=Q(runs__status=RunStatus.RUNNING)),
        n_pending=Count("runs", filter=Q(runs__status=RunStatus.PENDING)),
    )
    for job in jobs:
        status = _status_for(job)
        if status != job.status:
            Job.objects.filter(id=job.id, status__in=ACTIVE_JOB_STATUSES).update(status=status)


def _status_for(job: Job) -> str:
    if job.n_running:
        return JobStatus.RUNNING
    if job.next_run_at is not None or job.n_pending:
        return JobStatus.SCHEDULED
    if job.is_recurring:
        return JobStatus.COMPLETED
    last = (
        Run.objects.filter(job=job, finished_at__isnull=False)
        .exclude(status=RunStatus.CANCELED)
        .order_by("-finished_at")
        .first()
    )
    if last is not None and last.status == RunStatus.SUCCEEDED:
        return JobStatus.SUCCEEDED
    return JobStatus.FAILED


def end_unplannable(job_id, exc: Exception) -> str:
    """End a job whose next fire cannot be computed: `failed`, no further fire, the reason
    kept in `status_reason`; call inside the transaction that was planning it.

    One job's broken schedule must not stop the loop that plans, reaps or settles the
    others: those loops call this for the one job and go on. Returns the reason.
    """
    reason = f"The scheduler could not plan this job's next fire: {exc}"[:500]
    log.error("job ended: next fire cannot be computed job=%s", job_id, exc_info=exc)
    Job.objects.filter(id=job_id).exclude(status=JobStatus.CANCELED).update(
        status=JobStatus.FAILED, status_reason=reason, next_run_at=None
    )
    return reason
