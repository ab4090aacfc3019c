"""Reads: the querysets the API and admin show."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.db.models import Count, F, QuerySet

from .access import sees_all_jobs
from .models import Job, Run, RunStatus


def jobs_visible_to(user) -> QuerySet[Job]:
    """Holders of jobs.view_all_jobs (and superusers) see every job; others their own."""
    jobs = Job.objects.select_related("owner", "last_run")
    return jobs if sees_all_jobs(user) else jobs.filter(owner=user)


def runs_visible_to(user) -> QuerySet[Run]:
    runs = Run.objects.all()
    return runs if sees_all_jobs(user) else runs.filter(job__owner=user)


# The columns of a run in the list across jobs: never `result` (up to OUTPUT_LIMIT bytes of
# output per stream, per run), nor the job's task (a script's content).
# What a list of runs reads of each (the API's list, the dashboard's job page): never the
# result, which may be large.
RUN_SUMMARY = (
    "id",
    "job",
    "status",
    "attempt",
    "trigger",
    "due_at",
    "started_at",
    "finished_at",
    "error",
)
_LISTED = (*RUN_SUMMARY, "job__name")

# Newest first: by due time, a fire's later attempt first; the id keeps runs due together
# in one order, so that pages never repeat or skip one.
NEWEST_FIRST = ("-due_at", "-attempt", "id")
# How many matching runs a page of the run list reads and sorts at most; above it, PostgreSQL
# walks run_due_idx instead (runs_newest_first).
SORT_AT_MOST = 10_000


def runs_listed_for(user) -> QuerySet[Run]:
    """The runs of every job `user` sees, newest first, each with its job's name in the
    same query."""
    return runs_visible_to(user).select_related("job").only(*_LISTED).order_by(*NEWEST_FIRST)


def runs_newest_first(runs: QuerySet[Run], *, matching: int) -> QuerySet[Run]:
    """`runs` newest first, ordered so that PostgreSQL finds a page of them fast, given
    that `matching` of them match (the page's count, taken first).

    Many matches: walk run_due_idx newest first and keep the matches until the page is
    full, a few index entries per run shown. Few: read the matches (through their jobs,
    run_job_idx) and sort them. The planner cannot choose between the two itself: it
    guesses a user's share of the runs from their share of the jobs, so for a user whose
    jobs run daily among others' that run every minute, or whose jobs ran last year, it
    walked nearly the whole index to fill one page (1.8 s at 2M runs, against 8 ms reading
    and sorting their 7,300 runs). Ordering by `due_at + 0` keeps it off the index: the
    expression is not the indexed column, so the plan is the one it would be without the
    index. (That plan can still be a scan of the table, for a user with many jobs and few
    runs: the same guess.)
    """
    if matching > SORT_AT_MOST:
        return runs.order_by(*NEWEST_FIRST)
    return runs.order_by((F("due_at") + timedelta(0)).desc(), "-attempt", "id")


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
