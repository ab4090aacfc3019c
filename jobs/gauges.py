"""Figures read from the database when /metrics is scraped: runs pending and running, jobs
by status and health, worker processes alive.

Each is one small query on an index or a small table: runs pending (the partial index
run_pending_idx) and running (run_running_idx), never a scan of the run table; jobs, one
GROUP BY over the job table (60-90 ms at 100k jobs on two cores); workers, the rows of
WorkerProcess. The answer is kept METRICS_CACHE seconds in Django's cache, shared by the
web processes (and hosts), so a storm of scrapes costs one set of queries. Only the web's
/metrics serves them (jobs/exposition.py): a figure of the whole database, not of a host.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from .models import Health, Job, JobStatus, Run, RunStatus, WorkerProcess

log = logging.getLogger(__name__)

CACHE_KEY = "metrics:state"


def read_state() -> dict:
    """The figures, from the database now."""
    now = timezone.now()
    pending = Run.objects.filter(status=RunStatus.PENDING).aggregate(
        count=Count("*"), due=Count("due_at", filter=Q(due_at__lte=now)), oldest=Min("due_at")
    )
    running = Run.objects.filter(status=RunStatus.RUNNING).count()
    jobs = {
        (row["status"], row["health"]): row["n"]
        for row in Job.objects.values("status", "health").annotate(n=Count("*")).order_by()
    }
    alive_since = now - timedelta(seconds=settings.SCHED["LOST_AFTER"])
    queues = list(
        WorkerProcess.objects.filter(last_seen__gte=alive_since).values_list("queues", flat=True)
    )
    oldest = pending["oldest"]
    return {
        "pending": pending["count"],
        "pending_due": pending["due"],
        "overdue": (now - oldest).total_seconds() if oldest is not None and oldest < now else 0.0,
        "running": running,
        "jobs": jobs,
        "workers": len(queues),
        "queue_workers": dict(Counter(queue for names in queues for queue in names)),
    }


def cached_state() -> dict:
    """The figures, at most METRICS_CACHE seconds old. A cache that does not answer is
    passed by (the database answers instead), as the throttles do."""
    ttl = settings.METRICS_CACHE
    if ttl <= 0:
        return read_state()
    try:
        state = cache.get(CACHE_KEY)
    except Exception:
        log.warning("metrics: the cache does not answer; reading the database", exc_info=True)
        return read_state()
    if state is None:
        state = read_state()
        try:
            cache.set(CACHE_KEY, state, ttl)
        except Exception:
            log.warning("metrics: the cache does not answer", exc_info=True)
    return state


class StateCollector:
    """A prometheus_client collector of the figures (registered by jobs.exposition)."""

    def collect(self):
        up = GaugeMetricFamily(
            "sched_state_up", "1 when the database answered the figures below, else 0."
        )
        try:
            state = cached_state()
        except Exception:  # the database is away: say so, and serve the counters anyway
            log.warning("metrics: the database's figures could not be read", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield _gauge("sched_runs_pending", "Runs planned or queued, not started.", state["pending"])
        yield _gauge(
            "sched_runs_pending_due",
            "Pending runs whose due time has come (a backlog when it stays high).",
            state["pending_due"],
        )
        yield _gauge(
            "sched_runs_overdue_seconds",
            "How long ago the oldest pending run was due (0: none is past due).",
            state["overdue"],
        )
        yield _gauge("sched_runs_running", "Runs running now.", state["running"])
        jobs = GaugeMetricFamily(
            "sched_jobs", "Jobs by status and health.", labels=["status", "health"]
        )
        for status in JobStatus.values:  # every pair, 0 when none: no series comes and goes
            for health in Health.values:
                jobs.add_metric([status, health], state["jobs"].get((status, health), 0))
        yield jobs
        yield _gauge(
            "sched_workers_alive",
            "Worker processes seen within LOST_AFTER (jobs.WorkerProcess).",
            state["workers"],
        )
        queues = GaugeMetricFamily(
            "sched_queue_workers_alive",
            "Worker processes alive consuming each queue.",
            labels=["queue"],
        )
        for queue, count in sorted(state["queue_workers"].items()):
            queues.add_metric([queue], count)
        yield queues


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
