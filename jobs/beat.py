"""The beat scheduler: django-celery-beat for housekeeping, plus the dispatcher every tick."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections
from django_celery_beat.schedulers import DatabaseScheduler

from dashboard import rollup
from notifications import sweeper as notification_sweeper

from . import idempotency, metrics, reaper
from .dispatch import dispatch

log = logging.getLogger(__name__)

# Seconds between purges of idempotency keys older than a day (jobs/idempotency.py): they
# no longer count from the moment they expire; the purge only keeps the table small.
PURGE_INTERVAL = 600


class DispatchingScheduler(DatabaseScheduler):
    """Run the dispatcher in the beat process every DISPATCH_INTERVAL seconds, and the
    reaper every REAP_INTERVAL seconds.

    Planning in beat itself (not as a task on a worker) keeps the clock off the worker
    queues, so a busy worker pool never delays a fire's planning.

    The reaper runs here too (with the sweeper of notifications whose message was lost),
    for the same reason: as a task on a worker queue it would wait
    for a free worker thread, so a dead worker's runs would be found lost only when some
    long run ended (docs/design.md). REAP_INTERVAL may be any fraction of a second, which
    django-celery-beat's whole-second intervals could not hold. Several beats may reap at
    once: the reaper locks the runs it works on with SKIP LOCKED and its updates are
    conditional.

    The dashboard's rollup (dashboard/rollup.py) recounts recent runs every
    ROLLUP_INTERVAL in a thread this scheduler starts, beside the tick.

    Idempotency keys older than a day are purged every PURGE_INTERVAL.
    """

    _next_reap: float = 0.0
    _next_purge: float = 0.0
    _rollup: threading.Thread | None = None

    def tick(self, *args, **kwargs) -> float:
        interval = super().tick(*args, **kwargs)
        self._start_rollup()
        started = time.perf_counter()
        try:
            planned = dispatch()
            if planned:
                log.debug("dispatched %d runs", planned)
        except Exception:  # the database is away: try again at the next tick
            log.exception("dispatch failed; retrying at the next tick")
            close_old_connections()
        finally:
            metrics.dispatcher_tick(time.perf_counter() - started)
        self._reap_when_due()
        self._purge_when_due()
        return min(interval, settings.SCHED["DISPATCH_INTERVAL"])

    def _start_rollup(self) -> None:
        """The dashboard's rollup runs beside the tick, in a thread of its own: a pass
        reads a few minutes of runs, which the planning of fires never waits for."""
        every = settings.SCHED["ROLLUP_INTERVAL"]
        if self._rollup is None and every > 0:
            self._rollup = rollup.start_thread(every)

    def _reap_when_due(self) -> None:
        now = time.monotonic()
        if now < self._next_reap:
            return
        self._next_reap = now + settings.SCHED["REAP_INTERVAL"]
        try:
            reaper.republish_stale_pending()
            reaper.recover_lost_runs()
            notification_sweeper.sweep()
        except Exception:  # the database is away: try again at the next interval
            log.exception("reaping failed; retrying in REAP_INTERVAL")
            close_old_connections()

    def _purge_when_due(self) -> None:
        now = time.monotonic()
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_INTERVAL
        try:
            idempotency.purge_expired()
        except Exception:  # the database is away: try again at the next interval
            log.exception("purging idempotency keys failed; retrying in PURGE_INTERVAL")
            close_old_connections()
