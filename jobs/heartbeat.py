"""Heartbeats of running runs: one thread per worker process beats for all of them.

Every HEARTBEAT_INTERVAL seconds it touches `heartbeat_at` of the runs this process is
running, in one statement. A run that is no longer `running` in the database (replaced,
or marked lost by the reaper) has its `stop` event set, so its executor stops the work.
A thread per run (as before) cost a thread start and, for long runs, a database
connection each; one per process costs one short connection and one UPDATE per interval.

A Celery worker also registers its process (`register_process`, at worker_ready): the
same thread then keeps its WorkerProcess row's `last_seen` every interval, runs or none
(one upsert per interval), so the process counts as alive (jobs/gauges.py: workers alive).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .models import Run, RunStatus, WorkerProcess

log = logging.getLogger(__name__)

_TICK = 0.25  # seconds: how often the thread looks whether a beat is due
FORGET_DEAD_AFTER = timedelta(days=1)  # a dead worker's row is kept this long


class _Beater:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, tuple[threading.Event, float]] = {}  # stop, watched since
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._process: WorkerProcess | None = None  # this worker process's row, registered

    def watch(self, run_id: str, stop: threading.Event) -> None:
        with self._lock:
            self._runs[str(run_id)] = (stop, time.monotonic())
            self._start()

    def _start(self) -> None:
        """Start the thread (under the lock) if it is not running in this process."""
        alive = self._thread is not None and self._thread.is_alive()
        if not alive or self._pid != os.getpid():  # not started, or a forked child
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)
            self._thread.start()

    def register(self, process: WorkerProcess) -> None:
        with self._lock:
            self._process = process
            self._start()

    def registered(self) -> WorkerProcess | None:
        """This process's row; None in a forked child (its parent's row is not its own)."""
        process = self._process
        return process if process is not None and process.pid == os.getpid() else None

    def unregister(self) -> WorkerProcess | None:
        with self._lock:
            process, self._process = self.registered(), None
        return process

    def unwatch(self, run_id: str) -> None:
        with self._lock:
            self._runs.pop(str(run_id), None)

    def _loop(self) -> None:
        last = time.monotonic()
        while True:
            interval = settings.SCHED["HEARTBEAT_INTERVAL"]
            time.sleep(min(_TICK, interval))
            if time.monotonic() - last < interval:
                continue
            last = time.monotonic()
            # A run's claim set its heartbeat: it needs one once it has run an interval.
            with self._lock:
                runs = {
                    run_id: stop
                    for run_id, (stop, since) in self._runs.items()
                    if last - since >= interval
                }
            process = self.registered()
            if not runs and process is None:
                continue
            try:
                if runs:
                    self.beat(runs)
            except Exception:  # the database is away for a moment: beat again later
                log.warning("heartbeat failed for %d runs", len(runs), exc_info=True)
            try:
                if process is not None:
                    touch_process(process)
            except Exception:
                log.warning("worker process heartbeat failed", exc_info=True)
            finally:
                # No connection held between beats (one connect per interval is cheap):
                # none goes stale, and none is left open when the process winds down.
                connection.close()

    @staticmethod
    def beat(runs: dict[str, threading.Event]) -> None:
        running = Run.objects.filter(id__in=list(runs), status=RunStatus.RUNNING)
        alive = {str(run_id) for run_id in running.values_list("id", flat=True)}
        running.update(heartbeat_at=timezone.now())
        for run_id, stop in runs.items():
            if run_id not in alive and not stop.is_set():
                log.info("run no longer running: stopping it run=%s", run_id)
                stop.set()


def touch_process(process: WorkerProcess) -> None:
    """Upsert the process's row with `last_seen` now (one statement)."""
    fields = ("host", "pid", "name", "queues", "concurrency", "started_at")
    row = WorkerProcess(last_seen=timezone.now(), **{f: getattr(process, f) for f in fields})
    WorkerProcess.objects.bulk_create(
        [row],
        update_conflicts=True,
        unique_fields=["host", "pid"],
        update_fields=["name", "queues", "concurrency", "started_at", "last_seen"],
    )


_beater = _Beater()


def register_process(name: str, queues: list[str], concurrency: int) -> WorkerProcess:
    """Count this worker process as alive from now on: its row is written now (or, if the
    database is away, at the next beat), then kept by the heartbeat thread every
    HEARTBEAT_INTERVAL. Rows of workers dead for a day go."""
    now = timezone.now()
    process = WorkerProcess(
        host=socket.gethostname(),
        pid=os.getpid(),
        name=name,
        queues=sorted(queues),
        concurrency=concurrency,
        started_at=now,
    )
    _beater.register(process)
    try:
        WorkerProcess.objects.filter(last_seen__lt=now - FORGET_DEAD_AFTER).delete()
        touch_process(process)
    except Exception:
        log.warning("could not write this worker's row yet; the heartbeat will", exc_info=True)
    return process


def unregister_process() -> None:
    """A worker stopping cleanly: it is no longer alive (its row goes at once)."""
    process = _beater.unregister()
    if process is not None:
        WorkerProcess.objects.filter(host=process.host, pid=process.pid).delete()


class Heartbeat:
    """`with Heartbeat(run_id, stop):` keeps the run's heartbeat while the work runs."""

    def __init__(self, run_id, stop: threading.Event | None = None) -> None:
        self.run_id = str(run_id)
        self.stop = stop or threading.Event()

    def __enter__(self) -> Heartbeat:
        _beater.watch(self.run_id, self.stop)
        return self

    def __exit__(self, *exc) -> None:
        _beater.unwatch(self.run_id)
