"""Put planned runs on the queue of their task type."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from executors.registry import queue_for

from .models import Run

log = logging.getLogger(__name__)


def publish(runs: Iterable[tuple[str, str, object]]) -> int:
    """Publish (run id, task type, due time) triples; return how many were sent.

    A publish that fails is only logged: the run stays `pending` in the database
    and the reaper publishes it again.
    """
    from .tasks import execute_run

    sent = 0
    now = timezone.now()
    expires_after = timedelta(seconds=settings.SCHED["MESSAGE_EXPIRES"])
    for run_id, task_type, due_at in runs:
        eta = due_at if due_at > now else None
        try:
            execute_run.apply_async(
                args=[str(run_id)],
                queue=queue_for(task_type),
                eta=eta,
                expires=max(due_at, now) + expires_after,
            )
        except Exception:  # the broker is down: the reaper will retry
            log.warning(
                "publish failed run=%s; the reaper will publish it again", run_id, exc_info=True
            )
            continue
        sent += 1
    return sent


def publish_runs(runs: Iterable[Run]) -> int:
    return publish((run.id, run.job.type, run.due_at) for run in runs)
