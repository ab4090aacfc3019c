"""The dashboard's reads: each a fixed number of indexed queries, whatever the table sizes.

Who sees what is jobs.access's rule, as in the API: holders of jobs.view_all_jobs (and
superusers) read every job and the rollup rows of EVERYONE; others their own jobs and
their own rollup rows.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from django.db import connection
from django.db.models import QuerySet, Sum

from jobs.access import sees_all_jobs
from jobs.models import Health, Job, Run
from jobs.selectors import (
    RUN_SUMMARY,
    SORT_AT_MOST,
    jobs_visible_to,
    runs_listed_for,
    runs_newest_first,
)

from . import histogram
from .models import EVERYONE, HOUR, MINUTE, QUARTER, TOTAL, RunBucket
from .rollup import floor_to

# A chart's span: its bucket size and how many buckets.
SPANS = {"hour": (MINUTE, 60), "day": (QUARTER, 96), "week": (HOUR, 168)}
FAILING_SHOWN = 20
UPCOMING_SHOWN = 20
RECENT_SHOWN = 20
RECENT_WITHIN = timedelta(days=1)  # the recent runs list reads runs due this recently
JOB_IDS = 2000  # an ordinary user's jobs read by id for their recent runs, at most
DURATION_JOBS = 10  # jobs in the overview's durations chart
DURATION_RUNS = 50  # last runs per job its duration percentiles are read from
JOB_RUNS_SHOWN = 100  # runs on a job's page


def owner_scope(user) -> int:
    """Whose rollup rows `user` reads: EVERYONE's, or their own."""
    return EVERYONE if sees_all_jobs(user) else user.pk


@dataclass
class Bucket:
    start: datetime
    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    lag: Counter = field(default_factory=Counter)  # the histogram (dashboard.histogram)


def run_series(user, span: str, now: datetime) -> list[Bucket]:
    """Runs by status and fire lag p50 / p99 per bucket over `span`, oldest first, the
    current (partial) bucket last: one query of at most (buckets x statuses) rollup rows."""
    seconds, count = SPANS[span]
    end = floor_to(now, seconds) + timedelta(seconds=seconds)
    start = end - timedelta(seconds=seconds * count)
    buckets = {
        start + timedelta(seconds=seconds * i): Bucket(start + timedelta(seconds=seconds * i))
        for i in range(count)
    }
    rows = RunBucket.objects.filter(
        owner_id=owner_scope(user), seconds=seconds, bucket__gte=start, bucket__lt=end
    ).values_list("bucket", "status", "count", "lag")
    for moment, status, n, lag in rows:
        bucket = buckets.get(moment)
        if bucket is None:
            continue
        if status == TOTAL:
            bucket.total = n
            bucket.lag = histogram.merge([lag])
            bucket.p50_ms = histogram.percentile(bucket.lag, 0.5)
            bucket.p99_ms = histogram.percentile(bucket.lag, 0.99)
        elif n:
            bucket.counts[status] = n
    return list(buckets.values())


def failing_jobs(user) -> tuple[list[Job], int]:
    """The failing jobs `user` sees, most failures in a row first (job_failing_idx), each
    with its last run (for the last error); and how many there are.

    The last runs are read for the jobs shown only: joined in the same statement, each
    failing job's run was read before the sort (1,000 failing jobs: 23 ms, against 1)."""
    failing = _visible_jobs(user).filter(health=Health.FAILING)
    shown = list(
        failing.defer("task", "payload").order_by("-consecutive_failures", "-updated_at")[
            :FAILING_SHOWN
        ]
    )
    last_runs = Run.objects.filter(pk__in=[j.last_run_id for j in shown if j.last_run_id])
    by_id = {run.pk: run for run in last_runs.only("id", "status", "due_at", "error")}
    for job in shown:
        job.last_run = by_id.get(job.last_run_id)
    total = len(shown) if len(shown) < FAILING_SHOWN else failing.count()
    return shown, total


def upcoming_fires(user) -> list[Job]:
    """The jobs `user` sees that fire next, soonest first (job_due_idx)."""
    return list(
        _visible_jobs(user)
        .filter(next_run_at__isnull=False)
        .only("id", "name", "type", "status", "health", "next_run_at", "schedule_text")
        .order_by("next_run_at")[:UPCOMING_SHOWN]
    )


def _visible_jobs(user) -> QuerySet[Job]:
    jobs = Job.objects.all()
    return jobs if sees_all_jobs(user) else jobs.filter(owner=user)


def recent_runs(user, now: datetime) -> list[Run]:
    """The runs due lately (RECENT_WITHIN) of jobs `user` sees, newest first, with their
    job's name. How many match comes from the rollup (no count over the runs), which
    picks the plan as GET /runs does (jobs.selectors.runs_newest_first).

    An ordinary user's few runs are read through their jobs' ids (job_owner_idx, then
    run_job_idx per job): joined with the jobs, PostgreSQL's default costs made it scan
    every job for the owner's (60-130 ms at 100k jobs, 2 ms this way)."""
    since = now - RECENT_WITHIN
    runs = runs_listed_for(user).filter(due_at__gt=since, due_at__lte=now)
    matching = (
        RunBucket.objects.filter(
            owner_id=owner_scope(user),
            seconds=QUARTER,
            status=TOTAL,
            bucket__gte=floor_to(since, QUARTER),
        ).aggregate(n=Sum("count"))["n"]
        or 0
    )
    if matching <= SORT_AT_MOST and not sees_all_jobs(user):
        ids = list(Job.objects.filter(owner=user).values_list("id", flat=True)[: JOB_IDS + 1])
        if len(ids) <= JOB_IDS:
            runs = runs.filter(job_id__in=ids)
    return list(runs_newest_first(runs, matching=matching)[:RECENT_SHOWN])


@dataclass
class Durations:
    p50: float  # seconds
    p95: float
    runs: int


def job_durations(job_ids: list[UUID]) -> dict[UUID, Durations]:
    """Duration p50 / p95 over each job's last DURATION_RUNS finished runs (run_job_idx,
    newest first, a bounded walk per job): one statement on PostgreSQL."""
    if not job_ids:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_DURATIONS_SQL, [[str(i) for i in job_ids], DURATION_RUNS])
            return {
                UUID(str(job_id)): Durations(p50, p95, n)
                for job_id, p50, p95, n in cursor.fetchall()
            }
    found = {}  # SQLite: a bounded query per job
    for job_id in job_ids:
        seconds = [
            (finished - started).total_seconds()
            for started, finished in Run.objects.filter(
                job_id=job_id, started_at__isnull=False, finished_at__isnull=False
            )
            .order_by("-due_at")
            .values_list("started_at", "finished_at")[:DURATION_RUNS]
        ]
        if seconds:
            found[job_id] = Durations(quantile(seconds, 0.5), quantile(seconds, 0.95), len(seconds))
    return found


_DURATIONS_SQL = """
SELECT j.id,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY d.seconds),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY d.seconds),
       count(*)
FROM unnest(%s::uuid[]) AS j(id)
CROSS JOIN LATERAL (
    SELECT date_part('epoch', r.finished_at - r.started_at) AS seconds
    FROM jobs_run r
    WHERE r.job_id = j.id AND r.started_at IS NOT NULL AND r.finished_at IS NOT NULL
    ORDER BY r.due_at DESC
    LIMIT %s
) d
GROUP BY j.id
"""


def quantile(values: list[float], q: float) -> float:
    """The q-quantile by linear interpolation between ranks (PostgreSQL's percentile_cont)."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# The columns of a run on the dashboard: never its `result` (captured output).
_RUN_COLUMNS = (*RUN_SUMMARY, "worker")


def job_runs(job: Job) -> list[Run]:
    """The job's last JOB_RUNS_SHOWN runs, oldest first (run_job_idx)."""
    runs = job.runs.only(*_RUN_COLUMNS).order_by("-due_at", "-attempt")[:JOB_RUNS_SHOWN]
    return list(reversed(runs))


def visible_job(user, job_id: str) -> Job | None:
    """The job `job_id` if `user` sees it (None for another user's job, as the API's 404)."""
    try:
        UUID(str(job_id))
    except ValueError:
        return None
    return jobs_visible_to(user).defer("last_run__result").filter(pk=job_id).first()
