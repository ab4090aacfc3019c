"""What each dashboard page shows, put together from the selectors and the charts."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from jobs import timing
from jobs.access import sees_all_jobs
from jobs.models import Job, JobStatus, RunStatus

from . import charts, histogram, selectors
from .queues import queue_depths
from .selectors import SPANS
from .workers import workers_alive

SPAN_TITLES = {
    "hour": "last hour, per minute",
    "day": "last day, per 15 minutes",
    "week": "last week, per hour",
}
SPAN_NAMES = {"hour": "the last hour", "day": "the last day", "week": "the last week"}
NEXT_FIRES = 10  # a job page's next fire times


def job_link(job) -> str:
    return reverse("dashboard:job", args=[job.pk if isinstance(job, Job) else job])


def run_link(run) -> str:
    return f"/api/v1/runs/{run.pk}"


def overview(user, span: str, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    seconds, _ = SPANS[span]
    series = selectors.run_series(user, span, now)
    failing, failing_total = selectors.failing_jobs(user)
    upcoming = selectors.upcoming_fires(user)
    recent = selectors.recent_runs(user, now)
    duration_jobs = list(dict.fromkeys(run.job_id for run in recent))[: selectors.DURATION_JOBS]
    durations = selectors.job_durations(duration_jobs)
    names = {run.job_id: run.job.name or str(run.job_id) for run in recent}
    operator = sees_all_jobs(user)
    totals = {
        status: sum(b.counts.get(status, 0) for b in series) for status in charts.STATUS_COLOURS
    }
    lags = histogram.merge(b.lag for b in series)
    return {
        "now": now,
        "span": span,
        "spans": list(SPANS),
        "span_title": SPAN_TITLES[span],
        "span_name": SPAN_NAMES[span],
        "operator": operator,
        "runs_chart": charts.runs_by_status(
            series, seconds, f"Runs by outcome, {SPAN_TITLES[span]}"
        ),
        "lag_chart": charts.fire_lag(series, seconds, f"Fire lag p50 and p99, {SPAN_TITLES[span]}"),
        "legend": [(s, charts.colour(s), n) for s, n in totals.items() if n],
        "runs_total": sum(totals.values()),
        "failed_total": sum(n for s, n in totals.items() if s in _FAILED),
        "lag_p99_ms": histogram.percentile(lags, 0.99),
        "failing": failing,
        "failing_total": failing_total,
        "upcoming": upcoming,
        "timeline": charts.fire_timeline(
            [(job, job.next_run_at) for job in upcoming], now, job_link, "Upcoming fires"
        ),
        "recent": recent,
        "durations_chart": charts.durations_by_job(
            [(names[j], job_link(j), durations[j]) for j in duration_jobs if j in durations],
            "Run duration p50 and p95 per job",
        )
        if durations
        else None,
        "workers": workers_alive(now) if operator else None,
        "lost_after": f"{settings.SCHED['LOST_AFTER']:g}",
        "queues": queue_depths(user, now),
        "colours": charts.STATUS_COLOURS,
    }


_FAILED = {
    RunStatus.FAILED,
    RunStatus.TIMED_OUT,
    RunStatus.LOST,
    RunStatus.VETOED,
    RunStatus.MISSED,
}


def job_page(user, job: Job, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    runs = selectors.job_runs(job)
    took = [t for run in runs if (t := charts.run_seconds(run)) is not None]
    return {
        "now": now,
        "job": job,
        "operator": sees_all_jobs(user),
        "runs": list(reversed(runs))[:25],
        "runs_shown": len(runs),
        "dots": charts.run_dots(runs, run_link, f"The last {len(runs)} runs"),
        "trend": charts.duration_trend(runs, "Run duration, oldest first") if took else None,
        "p50": selectors.quantile(took, 0.5) if took else None,
        "p95": selectors.quantile(took, 0.95) if took else None,
        "next_fires": timing.upcoming(job, after=now, count=NEXT_FIRES),
        "paused": job.status == JobStatus.PAUSED,
        "ended": job.status
        in (JobStatus.CANCELED, JobStatus.COMPLETED, JobStatus.SUCCEEDED, JobStatus.FAILED),
        "colours": charts.STATUS_COLOURS,
    }
