"""The dispatcher: plan due fires into runs, one run per fire, and publish them.

Driven by beat every DISPATCH_INTERVAL seconds. Its cost is proportional to the
fires due, not to the number of jobs: it reads the partial index on
`next_run_at`. On PostgreSQL, `FOR UPDATE SKIP LOCKED` lets several dispatchers
share the work; the unique key (job, revision, due_at, attempt) makes a double plan
fail rather than fire twice.

A batch of DISPATCH_BATCH due jobs costs three statements on PostgreSQL, whatever its
size: the SELECT of the jobs (only the columns the planner reads), one INSERT of the
runs from arrays (`ON CONFLICT DO NOTHING RETURNING id`: a fire already planned is
dropped, not published) and one UPDATE of the jobs from arrays. Other databases
(SQLite) take the portable path: `bulk_create`, one by one on a conflict, and
`bulk_update`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models.fields import NOT_PROVIDED
from django.utils import timezone

from . import metrics
from .health import fires_missed
from .models import Job, Run, RunStatus, Trigger
from .pgarray import array_literal
from .publish import publish
from .settle import end_unplannable, settle_jobs
from .timing import following_fire, schedule_of, within_limits

log = logging.getLogger(__name__)

MISSED_ERROR = "Started too late: past the misfire grace."

# The Job columns the planner reads: not the task, payload, names... (`.only()`).
PLAN_FIELDS = (
    "id",
    "type",
    "revision",
    "schedule",
    "schedule_kind",
    "timezone",
    "anchor_at",
    "end_at",
    "max_runs",
    "fire_count",
    "next_run_at",
    "misfire_grace",
    # Who and where, for the `missed` event of a fire past its grace (jobs/health.py).
    "owner_id",
    "product",
    "group",
)


def dispatch(now: datetime | None = None) -> int:
    """Plan and publish every fire due within the lookahead; return runs published."""
    total = 0
    while True:
        planned = plan_due_fires(now)
        total += planned
        if planned < settings.SCHED["DISPATCH_BATCH"]:
            break
    total += publish_due_attempts(now)
    return total


def _grace(job: Job) -> timedelta:
    seconds = job.misfire_grace
    if seconds is None:
        seconds = settings.SCHED["DEFAULT_MISFIRE_GRACE"]
    return timedelta(seconds=seconds)


def _fire_for(job: Job, now: datetime) -> datetime:
    """The fire to plan now: a recurring job late by several fires runs once, for the latest."""
    due = job.next_run_at
    if job.is_recurring and due < now:
        # The latest fire the job still has, so not after its end_at: after a downtime that
        # outlasted end_at, the latest fire up to `now` is past it, and falling back to the
        # oldest missed fire would plan every missed fire one after another (a burst).
        until = now if job.end_at is None else min(now, job.end_at)
        latest = schedule_of(job).last_fire_at_or_before(until, anchor=job.anchor_at)
        if latest is not None and latest > due and within_limits(job, latest):
            return latest
    return due


@dataclass(slots=True)
class _Fire:
    """One fire of one job, to be inserted as a run of attempt 1."""

    run_id: uuid.UUID
    job: Job
    due_at: datetime
    pending: bool  # False: recorded missed (past the misfire grace), never published


def plan_due_fires(now: datetime | None = None) -> int:
    """Plan one batch of due jobs and publish it; return how many fires it planned."""
    planned, runs = _plan_batch(now)
    publish(runs)
    metrics.fires_planned(task_type for _, task_type, _ in runs)
    return planned


def _plan_batch(now: datetime | None) -> tuple[int, list[tuple[uuid.UUID, str, datetime]]]:
    """Plan one batch of due jobs, in one transaction; return how many due jobs it took
    (those it ended included) and the (run id, task type, due time) of the runs to
    publish, now committed."""
    now = now or timezone.now()
    horizon = now + timedelta(seconds=settings.SCHED["DISPATCH_LOOKAHEAD"])
    batch = settings.SCHED["DISPATCH_BATCH"]
    with transaction.atomic():
        jobs = list(
            Job.objects.select_for_update(skip_locked=True, no_key=True)
            .filter(next_run_at__isnull=False, next_run_at__lte=horizon)
            .order_by("next_run_at")
            .only(*PLAN_FIELDS)[:batch]
        )
        if not jobs:
            return 0, []
        fires: list[_Fire] = []
        for job in jobs:
            try:
                fires.append(_plan_fire(job, now))
            except Exception as exc:  # this job only: the batch goes on without it
                end_unplannable(job.id, exc)
        advanced = [f.job for f in fires]  # the jobs ended above are left out of the writes
        if connection.vendor == "postgresql":
            kept = _insert_runs_postgresql(fires, now)
            _advance_jobs_postgresql(advanced)
        else:
            kept = _insert_runs_portable(fires, now)
            Job.objects.bulk_update(advanced, ["next_run_at", "fire_count"])
        fires = [f for f in fires if f.run_id in kept]
        missed = [f for f in fires if not f.pending]
        fires_missed((f.job, f.run_id) for f in missed)
        if missed:  # counted once committed: a batch rolled back counts nothing
            ends = [(f.job.type, RunStatus.MISSED) for f in missed]
            transaction.on_commit(lambda: metrics.runs_ended(ends))
        # A fire planned pending leaves its job `scheduled` (or `running`, if another run
        # runs): settling it would change nothing. Settle the jobs whose fire was missed,
        # and those that fire no more without a run to wait for.
        pending_jobs = {f.job.id for f in fires if f.pending}
        settle_jobs(
            {f.job.id for f in fires if not f.pending}
            | {j.id for j in advanced if j.next_run_at is None and j.id not in pending_jobs}
        )
    return len(jobs), [(f.run_id, f.job.type, f.due_at) for f in fires if f.pending]


def _plan_fire(job: Job, now: datetime) -> _Fire:
    """The job's fire to plan now; advances the job's next_run_at and fire_count (unsaved).

    Raises when the job's schedule cannot be computed: the caller ends that job."""
    due = _fire_for(job, now)
    fire = _Fire(uuid.uuid4(), job, due, now - due <= _grace(job))
    job.fire_count += 1
    job.next_run_at = following_fire(job, due) if job.is_recurring else None
    return fire


# The Run fields _run_values sets; the others take the model's defaults.
_PLANNED_FIELDS = frozenset(
    (
        "id",
        "job_id",
        "job_revision",
        "due_at",
        "attempt",
        "trigger",
        "idempotency_key",
        "status",
        "error",
        "queued_at",
        "finished_at",
    )
)


def _run_values(fire: _Fire, now: datetime) -> dict:
    """The fields of the run of a fire that are not the model's defaults."""
    return {
        "id": fire.run_id,
        "job_id": fire.job.id,
        "job_revision": fire.job.revision,
        "due_at": fire.due_at,
        "attempt": 1,
        "trigger": Trigger.SCHEDULE,
        "idempotency_key": fire.run_id,
        "status": RunStatus.PENDING if fire.pending else RunStatus.MISSED,
        "error": "" if fire.pending else MISSED_ERROR,
        "queued_at": now if fire.pending else None,
        "finished_at": None if fire.pending else now,
    }


def _insert_runs_postgresql(fires: list[_Fire], now: datetime) -> set[uuid.UUID]:
    """Insert the fires' runs in one statement; return the ids of those inserted.

    `INSERT ... SELECT FROM unnest(one array per column) ON CONFLICT DO NOTHING RETURNING
    id`: a fire already planned (the same job, revision, due time and attempt) is left
    out, as the portable path drops it. Every column of the model is written: the values
    of _run_values, and each other field's default (auto_now_add: the time of the insert).
    """
    sql, per_run, defaults = _insert_sql()
    rows = [_run_values(f, now) for f in fires]
    created = timezone.now()
    params = [
        field.get_db_prep_save(created if _is_auto_now(field) else field.get_default(), connection)
        for field in defaults
    ]
    params += [array_literal([row[field.attname] for row in rows]) for field in per_run]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        kept = {row[0] for row in cursor.fetchall()}
    if len(kept) < len(fires):
        for fire in fires:
            if fire.run_id not in kept:
                log.info("fire already planned job=%s due=%s", fire.job.id, fire.due_at)
    return kept


def _is_auto_now(field) -> bool:
    return getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False)


@cache
def _insert_sql():
    """The INSERT of _insert_runs_postgresql, and its fields: per run (one array each, in
    unnest), then with the model's default (one parameter each, in the SELECT list)."""
    quote = connection.ops.quote_name
    # As bulk_create: no generated column; and a column with a database default is left
    # out, to take it.
    fields = [
        f
        for f in Run._meta.concrete_fields
        if not getattr(f, "generated", False) and f.db_default is NOT_PROVIDED
    ]
    per_run = [f for f in fields if f.attname in _PLANNED_FIELDS]
    defaults = [f for f in fields if f.attname not in _PLANNED_FIELDS]
    selected = [
        f"u.{quote(f.column)}" if f in per_run else f"%s::{f.db_type(connection)}" for f in fields
    ]
    # The SELECT list comes first in the statement: its parameters (defaults) go first.
    sql = (
        f"INSERT INTO {quote(Run._meta.db_table)} "
        f"({', '.join(quote(f.column) for f in fields)}) "
        f"SELECT {', '.join(selected)} "
        f"FROM unnest({', '.join(f'%s::{f.db_type(connection)}[]' for f in per_run)}) "
        f"AS u({', '.join(quote(f.column) for f in per_run)}) "
        f"ON CONFLICT DO NOTHING RETURNING {quote(Run._meta.pk.column)}"
    )
    return sql, per_run, defaults


def _insert_runs_portable(fires: list[_Fire], now: datetime) -> set[uuid.UUID]:
    """Insert all runs; on a conflict, insert one by one and drop the duplicates."""
    runs = [Run(**_run_values(f, now)) for f in fires]
    try:
        with transaction.atomic():
            Run.objects.bulk_create(runs)
    except IntegrityError:
        kept = []
        for run in runs:
            try:
                with transaction.atomic():
                    run.save(force_insert=True)
                kept.append(run)
            except IntegrityError:
                log.info("fire already planned job=%s due=%s", run.job_id, run.due_at)
        runs = kept
    return {run.id for run in runs}


def _advance_jobs_postgresql(jobs: list[Job]) -> None:
    """Write the jobs' next_run_at and fire_count in one UPDATE from arrays (Django's
    bulk_update builds a CASE WHEN per row and column in Python)."""
    table = connection.ops.quote_name(Job._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET next_run_at = u.next_run_at, fire_count = u.fire_count "
            "FROM unnest(%s::uuid[], %s::timestamptz[], %s::integer[]) "
            f"AS u(id, next_run_at, fire_count) WHERE {table}.id = u.id",
            [
                array_literal([j.id for j in jobs]),
                array_literal([j.next_run_at for j in jobs]),
                array_literal([j.fire_count for j in jobs]),
            ],
        )


def publish_due_attempts(now: datetime | None = None) -> int:
    """Publish retry and recovery attempts that are due within the lookahead."""
    now = now or timezone.now()
    horizon = now + timedelta(seconds=settings.SCHED["DISPATCH_LOOKAHEAD"])
    with transaction.atomic():
        runs = list(
            Run.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("job")
            .filter(status=RunStatus.PENDING, queued_at__isnull=True, due_at__lte=horizon)
            .order_by("due_at")[: settings.SCHED["DISPATCH_BATCH"]]
        )
        if not runs:
            return 0
        Run.objects.filter(id__in=[r.id for r in runs]).update(queued_at=now)
    return publish((r.id, r.job.type, r.due_at) for r in runs)
