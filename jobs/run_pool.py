"""The worker process's run pool: the threads its runs run on, fed one run or a bundle.

The dispatcher puts the runs of one queue due within DISPATCH_BUNDLE_WINDOW of each
other in one message (jobs/publish.py), so Celery's cost per message (fetching, the ETA
timer, acking, tracing) is paid once for up to DISPATCH_BUNDLE runs. The message's ETA
is the first run's due time. Here each run is started at its own due time on a thread of
this process's run pool, and the message is acknowledged once all of them are recorded.

Single runs go through the same pool, so a worker process runs at most as many runs at
once as its pool has threads: Celery's concurrency for the threads pool (the Procfile),
one per child process for prefork or solo. Celery's own threads only hold messages.

Each run is claimed on its own, as a message per run would be: a run another worker has
claimed, or that was canceled or rescheduled meanwhile, is dropped, and the others go on.
If the worker dies, the message comes back (acks late) and the claims drop the runs
already started; the reaper recovers those from their heartbeats, as for any run.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections

from . import runner

log = logging.getLogger(__name__)

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_threads: int | None = None  # set by the worker at start (configure); else the setting


def configure(threads: int | None) -> None:
    """Size this process's run pool (the worker calls it at start, before any run);
    None: WORKER_RUN_THREADS. A pool already made finishes its runs and goes."""
    global _threads, _pool
    with _lock:
        _threads = None if threads is None else max(1, threads)
        old, _pool = _pool, None
    if old is not None:
        old.shutdown(wait=True)


def _run_pool() -> ThreadPoolExecutor:
    """This process's run pool, made at its first run (and again in a forked child)."""
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():
            threads = _threads or settings.SCHED["WORKER_RUN_THREADS"]
            _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="run")
            _pool_pid = os.getpid()
            log.info("run pool of %d threads started", threads)
        return _pool


def _execute(run_id: str) -> str | None:
    # As around each Celery task (schedsite/celery.py): drop connections Django deems
    # old or broken before and after the run.
    close_old_connections()
    try:
        return runner.execute(run_id)
    finally:
        close_old_connections()


def execute_one(run_id: str) -> str | None:
    """Run one run on the run pool and wait for it; return its final status."""
    return _run_pool().submit(_execute, run_id).result()


def execute_bundle(run_ids: list[str], dues: list[float]) -> list[str | None]:
    """Start each run at its due time (epoch seconds) on the run pool; wait for all.

    Returns each run's final status (None: dropped, or it failed to be recorded: the
    reaper then recovers it). One run's error does not stop the others.
    """
    pool = _run_pool()
    log.info("bundle of %d runs, first run=%s", len(run_ids), run_ids[0])
    futures: dict[str, Future] = {}
    for run_id, due in sorted(zip(run_ids, dues, strict=True), key=lambda item: item[1]):
        wait = due - time.time()
        if wait > 0:
            time.sleep(wait)
        futures[run_id] = pool.submit(_execute, run_id)
    statuses: list[str | None] = []
    for run_id in run_ids:
        try:
            statuses.append(futures[run_id].result())
        except Exception:
            log.exception("run failed to execute run=%s; the reaper will recover it", run_id)
            statuses.append(None)
    return statuses
