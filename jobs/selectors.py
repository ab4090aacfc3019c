"""Reads: the querysets the API and admin show."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, QuerySet

from .access import sees_all_jobs
from .models import Job, Run, RunStatus


def jobs_visible_to(user) -> QuerySet[Job]:
    """Holders of jobs.view_all_jobs (and superusers) see every job; others their own."""
    jobs = Job.objects.select_related("owner", "last_run")
    return jobs if sees_all_jobs(user) else jobs.filter(owner=user)


def runs_visible_to(user) -> QuerySet[Run]:
    runs = Run.objects.all()
    return runs if sees_all_jobs(user) else runs.filter(job__owner=user)


# Run statuses that count as failed in a job's counts: every finished one but a success,
# a cancel and a skip (`vetoed`, `missed`, `lost`, `timed_out` and `failed` are).
_NOT_FAILED = frozenset(
    (
        RunStatus.SUCCEEDED,
        RunStatus.PENDING,
        RunStatus.RUNNING,
        RunStatus.CANCELED,
        RunStatus.SKIPPED,
    )
)


def attach_run_counts(jobs: Iterable[Job]) -> None:
    """Set `run_counts` (runs, succeeded, failed) on each job, in one query for them all
    (not one per job of a page)."""
    jobs = list(jobs)
    counts = {job.id: {"runs": 0, "succeeded": 0, "failed": 0} for job in jobs}
    rows = (
        Run.objects.filter(job_id__in=list(counts))
        .order_by()
        .values_list("job_id", "status")
        .annotate(n=Count("id"))
    )
    for job_id, status, n in rows:
        job_counts = counts[job_id]
        job_counts["runs"] += n
        if status == RunStatus.SUCCEEDED:
            job_counts["succeeded"] += n
        elif status not in _NOT_FAILED:
            job_counts["failed"] += n
    for job in jobs:
        job.run_counts = counts[job.id]


def run_counts(job: Job) -> dict[str, int]:
    attach_run_counts([job])
    return job.run_counts
