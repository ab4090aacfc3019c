"""The beat scheduler: django-celery-beat for housekeeping, plus the dispatcher every tick."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import close_old_connections
from django_celery_beat.schedulers import DatabaseScheduler

from .dispatch import dispatch

log = logging.getLogger(__name__)


class DispatchingScheduler(DatabaseScheduler):
    """Run the dispatcher in the beat process every DISPATCH_INTERVAL seconds.

    Planning in beat itself (not as a task on a worker) keeps the clock off the
    worker queues, so a busy worker pool never delays a fire's planning.
    """

    def tick(self, *args, **kwargs) -> float:
        interval = super().tick(*args, **kwargs)
        try:
            planned = dispatch()
            if planned:
                log.debug("dispatched %d runs", planned)
        except Exception:  # the database is away: try again at the next tick
            log.exception("dispatch failed; retrying at the next tick")
            close_old_connections()
        return min(interval, settings.SCHED["DISPATCH_INTERVAL"])
