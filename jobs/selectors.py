"""Reads: the querysets the API and admin show."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from .models import Job, Run, RunStatus


def jobs_visible_to(user) -> QuerySet[Job]:
    """Staff see every job; others see their own."""
    jobs = Job.objects.select_related("owner", "last_run")
    return jobs if user.is_staff else jobs.filter(owner=user)


def runs_visible_to(user) -> QuerySet[Run]:
    runs = Run.objects.all()
    return runs if user.is_staff else runs.filter(job__owner=user)


def run_counts(job: Job) -> dict[str, int]:
    return Run.objects.filter(job=job).aggregate(
        runs=Count("id"),
        succeeded=Count("id", filter=Q(status=RunStatus.SUCCEEDED)),
        failed=Count(
            "id",
            filter=~Q(
                status__in=[
                    RunStatus.SUCCEEDED,
                    RunStatus.PENDING,
                    RunStatus.RUNNING,
                    RunStatus.CANCELED,
                    RunStatus.SKIPPED,
                ]
            ),
        ),
    )
