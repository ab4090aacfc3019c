"""Dispatch capacity: fires a second of one `dispatch()` over a table of N jobs (its planning
and its publishing apart, its WAL), the same runs sent by `apply_async` one by one, and the
memory of beat and worker at that size."""

from __future__ import annotations

import statistics
import time

from tests.broker import queued

from .context import Ctx, far_template, log
from .infra import rss_mib, wal_bytes


def bench_dispatch(ctx: Ctx) -> None:
    rows = []
    for size in ctx.mode.sizes:
        ctx.quiet()
        row = measure_size(ctx, size)
        row.update(peak_rss(ctx))
        rows.append(row)
    ctx.results["dispatch"] = rows
    ctx.quiet()


def load_dispatch_jobs(ctx: Ctx, size: int, due: int) -> None:
    """`size` hourly jobs in the database, `due` of them due now, the rest over a day."""
    from . import load

    tpl = far_template(ctx, {"every": "1h"}, "/cap")
    now = time.time()
    load.clone(
        tpl,
        due,
        due="to_timestamp(%(now)s - 1 + i * %(step)s)",
        params={"now": now, "step": 0.5 / due},
    )
    load.clone(
        tpl,
        size - due - 1,
        start=due,
        due="to_timestamp(%(now)s + 3600 + i * %(step)s)",
        params={"now": now, "step": 86400 / size},
    )
    load.analyze()


def measure_size(ctx: Ctx, size: int) -> dict:
    """Load `size` jobs and dispatch their due ones, `repeats` times (the machine is shared:
    the median is reported)."""
    due = ctx.mode.due
    log(f"dispatch: loading {size:,} jobs ({due:,} due)")
    started = time.monotonic()
    load_dispatch_jobs(ctx, size, due)
    load_s = time.monotonic() - started
    samples = []
    for repeat in range(ctx.mode.repeats):
        if repeat:
            rewind(ctx)
        samples.append(dispatch_once(ctx))
    row = {"jobs": size, "due": due, "load_s": load_s, "repeats": ctx.mode.repeats}
    for key in samples[0]:
        row[key] = statistics.median(s[key] for s in samples)
    row["fires_per_s_all"] = [round(s["fires_per_s"]) for s in samples]
    log(
        f"  -> {row['fires_per_s']:,.0f} fires/s (median of {row['fires_per_s_all']}; "
        f"plan {row['plan_per_s']:,.0f}/s, publish {row['publish_per_s']:,.0f}/s, "
        f"{row['wal_bytes_per_fire']:,.0f} bytes of WAL/fire; "
        f"the same runs by apply_async, a message each {row['apply_async_per_s']:,.0f}/s)"
    )
    return row


def rewind(ctx: Ctx) -> None:
    """Put the due jobs back as they were before a dispatch, and empty the queue."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM jobs_run")
        cursor.execute(
            "UPDATE jobs_job SET next_run_at = next_run_at - interval '1 hour', "
            "fire_count = fire_count - 1 WHERE fire_count > 0"
        )
    ctx.redis().flushall()


def dispatch_once(ctx: Ctx) -> dict:
    """The product's dispatch(), with the time in its publish() measured apart; then the same
    runs again as plain Celery sends them."""
    from django.utils import timezone

    import jobs.dispatch as dispatch_module

    spent = {"publish": 0.0}
    original = dispatch_module.publish

    def timed_publish(runs, _original=original, spent=spent):
        t = time.perf_counter()
        try:
            return _original(runs)
        finally:
            spent["publish"] += time.perf_counter() - t

    dispatch_module.publish = timed_publish
    try:
        wal = wal_bytes()
        t = time.perf_counter()
        fired = dispatch_module.dispatch(now=timezone.now())
        elapsed = time.perf_counter() - t
        wal = wal_bytes() - wal
    finally:
        dispatch_module.publish = original
    in_queue = queued(ctx.redis(), "http")
    if in_queue != fired:
        log(f"  !! dispatch() planned {fired} and queued {in_queue}")
    return {
        "fired": fired,
        "fires_per_s": fired / elapsed,
        "plan_per_s": fired / (elapsed - spent["publish"]),
        "publish_per_s": fired / spent["publish"],
        "apply_async_per_s": apply_async_rate(ctx),
        "wal_bytes_per_fire": wal / max(fired, 1),
    }


def apply_async_rate(ctx: Ctx) -> float:
    """The runs in the table sent by `apply_async`, a message each: messages a second."""
    from jobs.models import Run
    from jobs.tasks import execute_run

    ctx.redis().flushall()
    runs = list(Run.objects.only("id", "due_at"))
    t = time.perf_counter()
    for run in runs:
        execute_run.apply_async(args=[str(run.id)], queue="http", eta=run.due_at)
    one_by_one = time.perf_counter() - t
    return ctx.redis().llen("http") / one_by_one


def peak_rss(ctx: Ctx) -> dict:
    """Beat and worker running for a while at this size, 100 fires/s flowing: their peak RSS."""
    from jobs.models import Run

    b = ctx.bench
    ctx.redis().flushall()
    Run.objects.all().delete()
    trickle(min(ctx.mode.due, int(100 * ctx.mode.rss_window)), time.time() + 3)
    worker = b.start_worker()
    beat = b.start_beat()
    peak = {"worker": 0.0, "beat": 0.0}
    end = time.monotonic() + ctx.mode.rss_window
    while time.monotonic() < end:
        peak["worker"] = max(peak["worker"], rss_mib(worker.proc.pid))
        peak["beat"] = max(peak["beat"], rss_mib(beat.proc.pid))
        time.sleep(0.5)
    log(f"  -> RSS beat {peak['beat']:.0f} MiB, worker {peak['worker']:.0f} MiB")
    b.stop("beat")
    b.stop("worker")
    return {"rss_worker_mib": peak["worker"], "rss_beat_mib": peak["beat"]}


def trickle(count: int, t0: float) -> None:
    """Make the `count` jobs due first due from `t0` on, 100 a second."""
    from django.db import connection

    from jobs.models import Job

    ids = list(
        Job.objects.filter(next_run_at__isnull=False)
        .order_by("next_run_at")
        .values_list("id", flat=True)[:count]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE jobs_job SET next_run_at = to_timestamp(%s + (x.n - 1) * 0.01), "
            "anchor_at = to_timestamp(%s + (x.n - 1) * 0.01) FROM "
            "(SELECT id, row_number() OVER () AS n FROM unnest(%s::uuid[]) AS id) x "
            "WHERE jobs_job.id = x.id",
            [t0, t0, ids],
        )
