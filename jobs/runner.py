"""The worker side: claim a run, execute it with a heartbeat, record the outcome."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from executors.base import Outcome, RunContext
from executors.registry import get_executor

from . import metrics, runner_sql
from .attempts import plan_next_attempt
from .display import log_run_ended
from .health import fire_ended
from .heartbeat import Heartbeat
from .models import ACTIVE_JOB_STATUSES, Concurrency, Job, JobStatus, Run, RunStatus, Trigger
from .owners import egress_unrestricted
from .publish import publish
from .settle import settle_jobs

log = logging.getLogger(__name__)


_host_pid = (0, "")  # (pid, "host:pid") of this process, worked out once per process


def worker_name() -> str:
    """`host:pid:thread` of the thread running a run (shown in its `worker`)."""
    global _host_pid
    pid, prefix = _host_pid
    if pid != os.getpid():
        pid = os.getpid()
        prefix = f"{socket.gethostname()}:{pid}"
        _host_pid = (pid, prefix)
    return f"{prefix}:{threading.current_thread().name}"


def claim(run_id: str) -> Run | None:
    """Move a run pending -> running if its job was not changed since it was planned.

    Zero rows updated means a duplicate message, or a canceled, rescheduled or
    already-running run: the caller drops it.
    """
    if runner_sql.enabled():
        run = runner_sql.claim(run_id, worker_name())
        if run is not None:
            return run
    now = timezone.now()
    with transaction.atomic():
        job_id = Run.objects.filter(id=run_id).values_list("job_id", flat=True).first()
        if job_id is None:
            return None
        # Locking the job row serializes the claims of one job (concurrency policy).
        job = Job.objects.select_for_update(no_key=True).get(id=job_id)
        if job.concurrency == Concurrency.FORBID and _skip_while_busy(run_id, job, now):
            return None
        if job.concurrency == Concurrency.REPLACE:
            _stop_others(run_id, job)
        claimed = Run.objects.filter(
            id=run_id, status=RunStatus.PENDING, job_revision=job.revision
        ).update(status=RunStatus.RUNNING, started_at=now, heartbeat_at=now, worker=worker_name())
        if not claimed:
            _cancel_if_stale(run_id)
            return None
        run = Run.objects.select_related("job").get(id=run_id)
        Job.objects.filter(id=job_id, status__in=ACTIVE_JOB_STATUSES).update(
            status=JobStatus.RUNNING
        )
    return run


def _skip_while_busy(run_id: str, job: Job, now) -> bool:
    """concurrency=forbid: a fire that comes while another run runs is recorded skipped."""
    if not Run.objects.filter(job=job, status=RunStatus.RUNNING).exclude(id=run_id).exists():
        return False
    skipped = Run.objects.filter(id=run_id, status=RunStatus.PENDING).update(
        status=RunStatus.SKIPPED,
        finished_at=now,
        error="Skipped: the previous run was still running (concurrency: forbid).",
    )
    if skipped:
        fire_ended(job, run_id, RunStatus.SKIPPED, now=now)
        # Counted once the claim's transaction commits (a rolled-back skip counts nothing).
        transaction.on_commit(lambda: metrics.runs_ended([(job.type, RunStatus.SKIPPED)]))
    return bool(skipped)


def _cancel_if_stale(run_id: str) -> None:
    """A pending run planned under an older revision of its job will never run."""
    Run.objects.filter(id=run_id, status=RunStatus.PENDING).exclude(
        job__revision=F("job_revision")
    ).update(
        status=RunStatus.CANCELED,
        finished_at=timezone.now(),
        error="The job changed after this run was planned.",
    )


def _stop_others(run_id: str, job: Job) -> None:
    """concurrency=replace: ask the job's running runs to stop.

    They become `canceled` now; their worker notices at its next heartbeat, stops the
    work and records when it stopped (finished_at). The new run waits for that.
    """
    Run.objects.filter(job=job, status=RunStatus.RUNNING).exclude(id=run_id).update(
        status=RunStatus.CANCELED,
        error=f"Replaced by run {run_id} (concurrency: replace).",
    )


def wait_for_replaced(run: Run) -> None:
    """Start after the runs this one replaced have stopped, or after a bounded wait.

    A replaced run whose worker died never reports; the wait ends after two heartbeat
    intervals plus the kill grace.
    """
    limit = 2 * settings.SCHED["HEARTBEAT_INTERVAL"] + settings.SCHED["KILL_GRACE"] + 1.0
    deadline = time.monotonic() + limit
    stopping = Run.objects.filter(
        job_id=run.job_id,
        status=RunStatus.CANCELED,
        finished_at__isnull=True,
        error__startswith=f"Replaced by run {run.id}",
    )
    while stopping.exists() and time.monotonic() < deadline:
        time.sleep(0.1)


def execute(run_id: str) -> str | None:
    """Run one attempt end to end; return its final status, or None if it was not ours."""
    run = claim(run_id)
    if run is None:
        log.info("run dropped run=%s (duplicate, canceled or stale)", run_id)
        return None
    job = run.job
    metrics.run_started(job.type, run.due_at, run.started_at)
    context = RunContext(
        job_id=str(job.id),
        run_id=str(run.id),
        attempt=run.attempt,
        idempotency_key=str(run.idempotency_key),
        task=job.task,
        payload=job.payload,
        timeout=job.timeout,
        due_at=run.due_at,
        egress_unrestricted=egress_unrestricted(job.owner_id),
    )
    if job.concurrency == Concurrency.REPLACE:
        wait_for_replaced(run)
        started = timezone.now()  # the work starts once the replaced runs stopped
        Run.objects.filter(id=run.id).update(started_at=started, heartbeat_at=started)
    with Heartbeat(run.id, context.stop):
        try:
            outcome = get_executor(job.type).run(context)
        except Exception as exc:
            log.exception("executor error run=%s", run.id)
            outcome = Outcome(RunStatus.FAILED, {}, f"Executor error: {exc!r}")
    finish(run, outcome)
    return outcome.status


def storable(value):
    """`value` with every NUL character (U+0000) in its strings made U+FFFD.

    PostgreSQL's text and jsonb cannot hold U+0000 (a binary body, `printf '\\0'`): an
    outcome that cannot be recorded would leave its run `running`, to be found lost and
    run again with the same end (docs/design.md, "What a run records").
    """
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value


def finish(run: Run, outcome: Outcome) -> bool:
    """Record the outcome if the run is still ours; plan a retry; settle the job."""
    now = timezone.now()
    error = storable(outcome.error[:4000])
    outcome = Outcome(outcome.status, storable(outcome.result), error)
    if outcome.status == RunStatus.SUCCEEDED and runner_sql.enabled():
        if runner_sql.succeed(run, outcome.result, error, now):
            metrics.run_finished(run.job.type, outcome.status, run.started_at, now)
            return True
    retry_run = None
    with transaction.atomic():
        updated = Run.objects.filter(id=run.id, status=RunStatus.RUNNING).update(
            status=outcome.status,
            result=outcome.result,
            error=error,
            finished_at=now,
            heartbeat_at=now,
        )
        if not updated:  # marked lost or canceled meanwhile: a late result changes nothing
            # A replaced run records when it actually stopped; its replacement waits for it.
            Run.objects.filter(
                id=run.id, status=RunStatus.CANCELED, finished_at__isnull=True
            ).update(finished_at=now, result=outcome.result)
            log.info("late result ignored run=%s", run.id)
            return False
        job = Job.objects.select_for_update(no_key=True).get(id=run.job_id)
        job.last_run_id = run.id
        if outcome.status in (RunStatus.FAILED, RunStatus.TIMED_OUT):  # vetoes are final
            retry_run = plan_next_attempt(job, run, Trigger.RETRY, now=now)
        if retry_run is None:  # no other attempt follows: the fire ended with this one
            fire_ended(job, run.id, outcome.status, now=now, also={"last_run_id": run.id})
        else:
            Job.objects.filter(id=job.id).update(last_run_id=run.id)
        settle_jobs([job.id])
    metrics.run_finished(job.type, outcome.status, run.started_at, now)
    if outcome.status in (RunStatus.FAILED, RunStatus.TIMED_OUT):  # not on the success path
        then = f"retry {retry_run.attempt} due {retry_run.due_at:%H:%M:%S}" if retry_run else ""
        log_run_ended(log, outcome.status, job, run.id, run.attempt, error, then)
    if retry_run is not None:
        _publish_if_due(retry_run)
    return True


def _publish_if_due(run: Run) -> None:
    """Publish an attempt due within the lookahead now; later ones wait for the dispatcher."""
    lookahead = timedelta(seconds=settings.SCHED["DISPATCH_LOOKAHEAD"])
    if run.due_at > timezone.now() + lookahead:
        return
    if Run.objects.filter(id=run.id, queued_at__isnull=True).update(queued_at=timezone.now()):
        publish([(run.id, run.job.type, run.due_at)])
