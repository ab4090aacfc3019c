"""The django-celery-beat baseline: as many interval tasks under its DatabaseScheduler as
jobs under ours, for one window: fires sent, fires delivered, beat's CPU."""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

from .context import Ctx, far_template, log
from .stats import cpu_seconds


def bench_baseline(ctx: Ctx) -> None:
    m = ctx.mode
    jobs, every, window = m.baseline_jobs, m.baseline_every, m.baseline_window
    out: dict[str, Any] = {"jobs": jobs, "every": every, "window": window}

    sides = os.environ.get("BENCH_BASELINE_SIDES", "dcb,ours").split(",")

    # django-celery-beat: one PeriodicTask per job.
    ctx.quiet()
    if "dcb" not in sides:
        out["dcb"] = {"sent": 0, "delivered": 0, "beat_cpu": math.nan, "due": 0}
    else:
        _baseline_dcb(ctx, out, jobs, every, window)

    # Ours: the same load, jobs {"every": "10s"}, first fires spread over the interval.
    if "ours" in sides:
        _baseline_ours(ctx, out, jobs, every, window)
    ctx.results["baseline"] = out
    ctx.quiet()


def _baseline_dcb(ctx: Ctx, out: dict, jobs: int, every: int, window: float) -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

    b = ctx.bench
    log(f"baseline: django-celery-beat, {jobs:,} PeriodicTasks every {every} s, {window:g} s")
    interval = IntervalSchedule.objects.create(every=every, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.bulk_create(
        PeriodicTask(
            name=f"bench-{i}",
            task="bench.fire",
            interval=interval,
            args=json.dumps([f"{ctx.target_url}/dcb/{i}"]),
            queue="bench",
        )
        for i in range(jobs)
    )
    PeriodicTasks.update_changed()
    b.start_worker("baseline-worker", app="bench.baseline_app", queues="bench")
    beat = b.start_beat(
        "baseline-beat",
        app="bench.baseline_app",
        scheduler="django_celery_beat.schedulers:DatabaseScheduler",
        wait=False,
    )
    out["dcb"] = _window(
        ctx,
        beat,
        window,
        sent=lambda: beat.own_log_text().count("Sending due task bench-"),
        prefix="/dcb/",
    )
    out["dcb"]["due"] = jobs * math.ceil(window / every)
    log(f"  -> {out['dcb']}")
    b.stop("baseline-beat")
    b.stop("baseline-worker")
    # A plain DELETE: Model.delete() would send a signal (and a query) per row.
    PeriodicTask.objects.filter(task="bench.fire")._raw_delete(PeriodicTask.objects.db)
    PeriodicTasks.update_changed()


def _baseline_ours(ctx: Ctx, out: dict, jobs: int, every: int, window: float) -> None:
    from jobs.models import Run

    from . import load

    b = ctx.bench
    ctx.quiet()
    log(f"baseline: ours, {jobs:,} jobs every {every} s, {window:g} s")
    tpl = far_template(ctx, {"every": f"{every}s"}, "/ours")
    t0 = time.time() + 2
    step = every / jobs
    load.clone(
        tpl,
        jobs,
        due="to_timestamp(%(t0)s + i * %(step)s)",
        uri="%(base)s || '/ours/' || i",
        params={"t0": t0, "step": step, "base": ctx.target_url},
    )
    b.start_worker()
    beat = b.start_beat(wait=False)
    started = time.time()
    out["ours"] = _window(ctx, beat, window, sent=lambda: Run.objects.count(), prefix="/ours/")
    end = started + window
    out["ours"]["due"] = sum(
        max(0, math.floor((end - (t0 + i * step)) / every) + 1) for i in range(jobs)
    )
    log(f"  -> {out['ours']}")


def _window(ctx: Ctx, beat, window: float, *, sent, prefix: str) -> dict:
    """Count fires sent by beat and received by the target within `window` s of beat's start."""
    started = time.time()
    cpu0 = cpu_seconds(beat.proc.pid)
    time.sleep(window)
    sent_n = sent()
    cpu = cpu_seconds(beat.proc.pid) - cpu0
    records = ctx.target.dump()
    received = [a for a, p in records if p.startswith(prefix) and a <= started + window]
    return {"sent": sent_n, "delivered": len(received), "beat_cpu": cpu / window}
