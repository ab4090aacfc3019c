"""Recover from lost messages and dead workers (run by beat every few seconds)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from . import metrics
from .attempts import plan_next_attempt
from .display import log_run_ended
from .models import Run, RunStatus, Trigger
from .publish import publish
from .settle import settle_jobs

log = logging.getLogger(__name__)


def republish_stale_pending(now=None) -> int:
    """Publish again runs queued long ago and still pending: the broker lost them.

    A run pending REPUBLISH_AFTER past its due time and its last publish is either lost
    (Redis restarted empty, a dead worker held its message) or waiting behind a backlog
    (workers slower than the fires). Publishing a waiting run again only adds a
    duplicate that the claim drops, and under a backlog that was most of the queue
    (docs/benchmarks.md). Workers take a queue in due order, so a run is taken as lost
    when its workers are past it (a run of its type due later is running) or idle (none
    is running); and in any case once its message has expired (MESSAGE_EXPIRES).
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SCHED["REPUBLISH_AFTER"])
    expired = now - timedelta(seconds=settings.SCHED["MESSAGE_EXPIRES"])
    with transaction.atomic():
        stale = list(
            Run.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("job")
            .filter(status=RunStatus.PENDING, due_at__lt=cutoff, queued_at__lt=cutoff)
            .order_by("due_at")[:1000]
        )
        working_on = _latest_running_due_by_type() if stale else {}
        runs = [
            run
            for run in stale
            if run.queued_at < expired
            or run.job.type not in working_on
            or working_on[run.job.type] > run.due_at
        ]
        Run.objects.filter(id__in=[r.id for r in runs]).update(queued_at=now)
    if runs:
        log.warning("republishing %d stale pending runs", len(runs))
        metrics.runs_republished(r.job.type for r in runs)
    if len(runs) < len(stale):
        log.info("%d pending runs wait behind busy workers", len(stale) - len(runs))
    return publish((r.id, r.job.type, r.due_at) for r in runs)


def _latest_running_due_by_type() -> dict[str, object]:
    """For each task type with running runs: the latest due time among them."""
    rows = (
        Run.objects.filter(status=RunStatus.RUNNING)
        .values("job__type")
        .annotate(latest=Max("due_at"))
        .order_by()
    )
    return {row["job__type"]: row["latest"] for row in rows}


def recover_lost_runs(now=None) -> int:
    """Mark running runs whose heartbeat stopped `lost` and plan a recovery attempt."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SCHED["LOST_AFTER"])
    recovered = []
    lost = []
    with transaction.atomic():
        runs = list(
            Run.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("job")
            .filter(status=RunStatus.RUNNING, heartbeat_at__lt=cutoff)[:1000]
        )
        for run in runs:
            error = f"No heartbeat from worker {run.worker} since {run.heartbeat_at:%H:%M:%S}."
            Run.objects.filter(id=run.id, status=RunStatus.RUNNING).update(
                status=RunStatus.LOST, finished_at=now, error=error
            )
            nxt = plan_next_attempt(run.job, run, Trigger.RECOVERY, now=now)
            if nxt is not None:
                nxt.queued_at = now
                Run.objects.filter(id=nxt.id).update(queued_at=now)
                recovered.append(nxt)
            lost.append((run, error, nxt))
        settle_jobs({r.job_id for r in runs})
    for run, error, nxt in lost:  # after the commit: what the log says was recorded
        then = f"recovery attempt {nxt.attempt}" if nxt else "no attempt follows"
        log_run_ended(log, RunStatus.LOST, run.job, run.id, run.attempt, error, then)
    if runs:
        log.warning("marked %d runs lost, %d recovery attempts", len(runs), len(recovered))
        metrics.runs_lost(r.job.type for r in runs)
        metrics.runs_recovered(r.job.type for r in recovered)
    publish((r.id, r.job.type, r.due_at) for r in recovered)
    return len(runs)
