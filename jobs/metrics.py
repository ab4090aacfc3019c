"""The counters and histograms the processes record (docs/operations.md, "Metrics").

Each is recorded in the process where its event happens: a worker's runs (claim, finish),
beat's dispatcher and reaper, a worker's notification deliveries. One costs a few
microseconds and no database work, so the worker's hot path records every run.

With PROMETHEUS_MULTIPROC_DIR set (prometheus_client's multiprocess mode), every process of
a host writes its values to its own file in that directory, and one process serves the sum
of them all (jobs/exposition.py: the web's /metrics, a worker's or beat's METRICS_PORT);
without it, each process keeps and serves its own. METRICS_ENABLED=0 makes every function
here do nothing (to measure what metrics cost).

A floor module: it imports prometheus_client and Django's settings, nothing of the service,
so the worker, beat and notifications may all import it. Labels are bounded: a task type, a
run status, a channel kind, an outcome; never a job, run or user id.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections import Counter as Tally
from collections import deque
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from prometheus_client import Counter, Histogram, disable_created_metrics

_multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _multiprocess_dir:  # each metric opens this process's file there when it is made
    os.makedirs(_multiprocess_dir, exist_ok=True)
# A `_created` timestamp per series, which only a process's own registry has (not the
# multiprocess sum): the same metrics whatever the mode, half the lines.
disable_created_metrics()

# Seconds. Lags are milliseconds when all is well and minutes behind a backlog; durations
# run from an HTTP call (ms) to a container (an hour); a dispatcher pass takes ms.
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
TICK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

RUNS_FINISHED = Counter(
    "sched_runs_finished",
    "Runs that ended with an outcome: recorded by a worker (succeeded, failed, timed_out, "
    "vetoed), skipped at the claim (concurrency forbid) or missed by the dispatcher.",
    ["status", "type"],
)
FIRE_LAG = Histogram(
    "sched_run_fire_lag_seconds",
    "How late a run started: its start (the worker's claim) minus its due time.",
    ["type"],
    buckets=LAG_BUCKETS,
)
RUN_DURATION = Histogram(
    "sched_run_duration_seconds",
    "How long a run ran, from its claim to its recorded outcome.",
    ["type"],
    buckets=DURATION_BUCKETS,
)
RUNS_LOST = Counter(
    "sched_runs_lost",
    "Running runs the reaper marked lost (no heartbeat for LOST_AFTER: the worker died).",
    ["type"],
)
RUNS_RECOVERED = Counter(
    "sched_runs_recovered",
    "Recovery attempts the reaper planned for lost runs.",
    ["type"],
)
RUNS_REPUBLISHED = Counter(
    "sched_runs_republished",
    "Pending runs the reaper published again (the broker lost their message).",
    ["type"],
)
DISPATCHER_TICK = Histogram(
    "sched_dispatcher_tick_seconds",
    "How long one dispatcher pass took (plan the due fires, publish them).",
    buckets=TICK_BUCKETS,
)
FIRES_PLANNED = Counter(
    "sched_dispatcher_fires_planned",
    "Fires the dispatcher planned into runs and published (a missed fire is not counted "
    'here but in sched_runs_finished_total{status="missed"}).',
    ["type"],
)
DELIVERIES = Counter(
    "sched_notification_deliveries",
    "Attempts at delivering a notification: delivered, retrying (failed, tried again "
    "later) or failed (for good).",
    ["kind", "outcome"],
)

# Recording is a deque append (atomic under the GIL, no lock taken); a flusher thread of
# the process applies what was recorded every FLUSH_EVERY seconds, and every reader
# flushes first (jobs/exposition.py). prometheus_client's multiprocess values share one
# lock per process, taken at every write: a worker's 16 threads queued on it and paid
# about 100 us of CPU per run where one thread alone pays 17 (docs/benchmarks.md,
# "Watching"). A process killed outright loses what it recorded in its last FLUSH_EVERY.
FLUSH_EVERY = 1.0
_INC, _OBSERVE = 0, 1
_pending: deque[tuple] = deque()
_flush_lock = threading.Lock()
_flusher_pid = 0

# The labelled children, looked up once: metric.labels() takes a lock and checks its
# arguments at every call, a dict lookup is all a flush needs.
_children: dict[tuple, object] = {}


def _child(metric, *labels: str):
    key = (metric, *labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels) if labels else metric
    return child


def _record(op: int, metric, labels: tuple, value: float) -> None:
    if _flusher_pid != os.getpid():
        _start_flusher()
    _pending.append((op, metric, labels, value))


def _start_flusher() -> None:
    """This process's flusher thread (again in a forked child, which drops the copy of its
    parent's pending records: the parent applies those)."""
    global _flusher_pid
    with _flush_lock:
        if _flusher_pid == os.getpid():
            return
        if _flusher_pid:
            _pending.clear()
        _flusher_pid = os.getpid()
        threading.Thread(target=_flush_loop, name="metrics-flush", daemon=True).start()


def _flush_loop() -> None:
    while True:
        time.sleep(FLUSH_EVERY)
        flush()


def flush() -> None:
    """Apply what was recorded: counters summed first (one write per series), each
    observation of a histogram in turn."""
    with _flush_lock:
        counts: Tally = Tally()
        while True:
            try:
                op, metric, labels, value = _pending.popleft()
            except IndexError:
                break
            if op == _INC:
                counts[(metric, labels)] += value
            else:
                _child(metric, *labels).observe(value)
        for (metric, labels), total in counts.items():
            _child(metric, *labels).inc(total)


atexit.register(flush)


def enabled() -> bool:
    return settings.METRICS_ENABLED


def run_started(task_type: str, due_at: datetime | None, started_at: datetime | None) -> None:
    """A worker claimed a run: its fire lag."""
    if settings.METRICS_ENABLED and due_at is not None and started_at is not None:
        lag = (started_at - due_at).total_seconds()
        _record(_OBSERVE, FIRE_LAG, (task_type,), lag if lag > 0 else 0.0)


def run_finished(
    task_type: str, status: str, started_at: datetime | None, finished_at: datetime
) -> None:
    """A worker recorded a run's outcome: counted by status, its duration observed."""
    if not settings.METRICS_ENABLED:
        return
    _record(_INC, RUNS_FINISHED, (str(status), task_type), 1)
    if started_at is not None:
        duration = (finished_at - started_at).total_seconds()
        _record(_OBSERVE, RUN_DURATION, (task_type,), duration if duration > 0 else 0.0)


def runs_ended(ends: Iterable[tuple[str, str]]) -> None:
    """Runs that ended without running, as (task type, status): skipped, missed."""
    if settings.METRICS_ENABLED:
        for (task_type, status), count in Tally(ends).items():
            _record(_INC, RUNS_FINISHED, (str(status), task_type), count)


def _count(metric, types: Iterable[str]) -> None:
    if settings.METRICS_ENABLED:
        for task_type, count in Tally(types).items():
            _record(_INC, metric, (task_type,), count)


def runs_lost(types: Iterable[str]) -> None:
    _count(RUNS_LOST, types)


def runs_recovered(types: Iterable[str]) -> None:
    _count(RUNS_RECOVERED, types)


def runs_republished(types: Iterable[str]) -> None:
    _count(RUNS_REPUBLISHED, types)


def fires_planned(types: Iterable[str]) -> None:
    _count(FIRES_PLANNED, types)


def dispatcher_tick(seconds: float) -> None:
    if settings.METRICS_ENABLED:
        _record(_OBSERVE, DISPATCHER_TICK, (), seconds)


def delivery(kind: str, outcome: str) -> None:
    if settings.METRICS_ENABLED:
        _record(_INC, DELIVERIES, (str(kind), outcome), 1)
