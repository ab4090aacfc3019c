"""Bench-only prototypes of product fixes, measured next to the product's code.

Nothing here is used by the product; each function mirrors a product function with one
change, so the benchmark can show what the change would buy before it is made.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from executors.registry import queue_for


def publish_batched(runs) -> int:
    """jobs.publish.publish with one producer and kombu 5.7's `Producer.batch()`.

    The same messages (same args, queue, eta, expires) as `apply_async` one at a time,
    but buffered in a non-transactional Redis pipeline and flushed every 1,000.
    """
    from jobs.tasks import execute_run

    sent = 0
    now = timezone.now()
    expires_after = timedelta(seconds=settings.SCHED["MESSAGE_EXPIRES"])
    app = execute_run.app
    with app.producer_or_acquire() as producer, producer.batch(max_size=1000):
        for run_id, task_type, due_at in runs:
            eta = due_at if due_at > now else None
            execute_run.apply_async(
                args=[str(run_id)],
                queue=queue_for(task_type),
                eta=eta,
                expires=max(due_at, now) + expires_after,
                producer=producer,
            )
            sent += 1
    return sent


# Job columns the planner needs (not task, payload, names...).
_PLAN_FIELDS = (
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
)


def plan_due_fires_fast(now=None) -> tuple[int, list]:
    """jobs.dispatch.plan_due_fires with its SQL made set-based; same rows, same rules.

    - reads only the columns the planner needs;
    - inserts the runs with one `INSERT ... SELECT FROM unnest(arrays) ON CONFLICT DO
      NOTHING RETURNING id` (a conflicting fire is dropped, as the product does one by one);
    - advances the jobs with one `UPDATE ... FROM unnest(arrays)` instead of bulk_update's
      CASE WHEN per row (whose SQL Django builds in Python: 2 x 1,000 When() objects);
    - settles only the jobs whose fire was missed or that fire no more (none, for a
      pending fire of a recurring job: it stays `scheduled`).

    Returns (jobs planned, [(run id, type, due)] to publish): publishing is the caller's,
    so that it can be batched or overlapped with the next batch.
    """
    import uuid
    from datetime import timedelta

    from django.db import connection, transaction

    from jobs.dispatch import _fire_for, _grace
    from jobs.models import Job, RunStatus, Trigger
    from jobs.settle import settle_jobs
    from jobs.timing import following_fire

    now = now or timezone.now()
    horizon = now + timedelta(seconds=settings.SCHED["DISPATCH_LOOKAHEAD"])
    batch = settings.SCHED["DISPATCH_BATCH"]
    with transaction.atomic():
        jobs = list(
            Job.objects.select_for_update(skip_locked=True, no_key=True)
            .filter(next_run_at__isnull=False, next_run_at__lte=horizon)
            .order_by("next_run_at")
            .only(*_PLAN_FIELDS)[:batch]
        )
        if not jobs:
            return 0, []
        ids, job_ids, revisions, dues, statuses, errors, queued, finished = ([] for _ in range(8))
        types = {}
        settle = set()
        for job in jobs:
            due = _fire_for(job, now)
            pending = now - due <= _grace(job)
            run_id = uuid.uuid4()
            ids.append(run_id)
            job_ids.append(job.id)
            revisions.append(job.revision)
            dues.append(due)
            statuses.append(RunStatus.PENDING if pending else RunStatus.MISSED)
            errors.append("" if pending else "Started too late: past the misfire grace.")
            queued.append(now if pending else None)
            finished.append(None if pending else now)
            types[run_id] = (job.type, due, pending)
            job.fire_count += 1
            job.next_run_at = following_fire(job, due) if job.is_recurring else None
            if not pending:
                settle.add(job.id)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO jobs_run (id, job_id, job_revision, due_at, attempt, trigger, "
                "idempotency_key, status, queued_at, started_at, finished_at, heartbeat_at, "
                "worker, result, error, created_at) "
                "SELECT r.id, r.job_id, r.rev, r.due, 1, %s, r.id, r.status, r.queued, NULL, "
                "r.finished, NULL, '', '{}'::jsonb, r.error, now() FROM unnest("
                "%s::uuid[], %s::uuid[], %s::int[], %s::timestamptz[], %s::text[], "
                "%s::timestamptz[], %s::timestamptz[], %s::text[]) "
                "AS r(id, job_id, rev, due, status, queued, finished, error) "
                "ON CONFLICT DO NOTHING RETURNING id",
                [
                    Trigger.SCHEDULE,
                    ids,
                    job_ids,
                    revisions,
                    dues,
                    statuses,
                    queued,
                    finished,
                    errors,
                ],
            )
            kept = {row[0] for row in cursor.fetchall()}
            cursor.execute(
                "UPDATE jobs_job SET next_run_at = u.next, fire_count = u.fires "
                "FROM unnest(%s::uuid[], %s::timestamptz[], %s::int[]) "
                "AS u(id, next, fires) WHERE jobs_job.id = u.id",
                [job_ids, [j.next_run_at for j in jobs], [j.fire_count for j in jobs]],
            )
        settle |= {j.id for j in jobs if j.next_run_at is None and j.is_recurring}
        settle_jobs(settle)
    to_publish = [
        (run_id, task_type, due)
        for run_id, (task_type, due, pending) in types.items()
        if pending and run_id in kept
    ]
    return len(jobs), to_publish


TIMES = {"plan": 0.0, "publish": 0.0}


def dispatch_fast(now=None) -> int:
    """jobs.dispatch.dispatch with plan_due_fires_fast and publish_prepared, the publish of
    one batch overlapped (one publisher thread) with the planning of the next."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    total = 0
    pending = None

    def publish(runs):
        t = time.perf_counter()
        publish_prepared(runs)
        TIMES["publish"] += time.perf_counter() - t

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="publish") as publisher:
        while True:
            t = time.perf_counter()
            planned, runs = plan_due_fires_fast(now)
            TIMES["plan"] += time.perf_counter() - t
            if pending is not None:
                pending.result()
            pending = publisher.submit(publish, runs)
            total += planned
            if planned < settings.SCHED["DISPATCH_BATCH"]:
                pending.result()
                return total


def publish_prepared(runs) -> int:
    """Publish the same messages as jobs.publish.publish, built by Celery's own message
    factory (`app.amqp.create_task_message`) and sent with `Producer.publish` in one
    kombu `batch()` (a non-transactional Redis pipeline): no per-message `apply_async`
    (signals, routing, option merging, a producer from the pool each time)."""
    import uuid

    from jobs.tasks import execute_run

    app = execute_run.app
    create = app.amqp.create_task_message
    now = timezone.now()
    expires_after = timedelta(seconds=settings.SCHED["MESSAGE_EXPIRES"])
    sent = 0
    with app.producer_or_acquire() as producer, producer.batch(max_size=1000):
        for run_id, task_type, due_at in runs:
            eta = due_at if due_at > now else None
            headers, properties, body, _ = create(
                str(uuid.uuid4()),
                execute_run.name,
                [str(run_id)],
                {},
                eta=eta,
                expires=max(due_at, now) + expires_after,
            )
            producer.publish(
                body,
                exchange="",
                routing_key=queue_for(task_type),
                serializer="json",
                delivery_mode=2,
                headers=headers,
                retry=False,
                **properties,
            )
            sent += 1
    return sent
