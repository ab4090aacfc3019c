"""Heartbeats of running runs: one thread per worker process beats for all of them.

Every HEARTBEAT_INTERVAL seconds it touches `heartbeat_at` of the runs this process is
running, in one statement. A run that is no longer `running` in the database (replaced,
or marked lost by the reaper) has its `stop` event set, so its executor stops the work.
A thread per run (as before) cost a thread start and, for long runs, a database
connection each; one per process costs one short connection and one UPDATE per interval.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .models import Run, RunStatus

log = logging.getLogger(__name__)

_TICK = 0.25  # seconds: how often the thread looks whether a beat is due


class _Beater:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, tuple[threading.Event, float]] = {}  # stop, watched since
        self._thread: threading.Thread | None = None
        self._pid = 0

    def watch(self, run_id: str, stop: threading.Event) -> None:
        with self._lock:
            self._runs[str(run_id)] = (stop, time.monotonic())
            alive = self._thread is not None and self._thread.is_alive()
            if not alive or self._pid != os.getpid():  # not started, or a forked child
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)
                self._thread.start()

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
            if not runs:
                continue
            try:
                self.beat(runs)
            except Exception:  # the database is away for a moment: beat again later
                log.warning("heartbeat failed for %d runs", len(runs), exc_info=True)
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


_beater = _Beater()


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
