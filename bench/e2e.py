"""End-to-end throughput: N HTTP runs due at once through beat and the worker, side by side
with raw Celery draining as many tasks on the same worker configuration."""

from __future__ import annotations

import math
import statistics
import time
from datetime import UTC, datetime

from .context import FINISHED, Ctx, far_template, log
from .infra import CpuMonitor, wal_bytes
from .stats import cpu_seconds

PROCFILE = "worker and beat as in the Procfile"


def bench_e2e(ctx: Ctx) -> None:
    variants = [ours(ctx, PROCFILE)]
    if not ctx.skip_variants:
        variants.append(ours(ctx, "two worker processes as in the Procfile", workers=2))
        # The same without bundles: what sending runs due together in one message gives.
        variants.append(
            ours(
                ctx,
                "one worker, a message per run (`DISPATCH_BUNDLE=1`)",
                env={"DISPATCH_BUNDLE": "1"},
            )
        )
    pairs = measured_pairs(ctx, variants[0])
    pair_ratios = [o["per_s"] / r for o, r in pairs]
    variants[0], raw = pairs[pair_ratios.index(statistics.median_low(pair_ratios))]
    target = f"{ctx.target_url}/rawfire"
    raw_eta = raw_celery(ctx, "bench.noop", [], eta_ahead=5.0)
    raw_http = raw_celery(ctx, "bench.fire", [target])
    raw_http_eta = raw_celery(ctx, "bench.fire", [target], eta_ahead=5.0)
    compare_variants(ctx, variants[1:], raw)
    mine = variants[0]["per_s"]
    log(f"  -> raw Celery {raw:,.0f}/s; ratio {mine / raw:.2f}")
    ctx.results["e2e"] = {
        "runs": ctx.mode.e2e_runs,
        "ours_per_s": mine,
        "raw_per_s": raw,
        "raw_eta_per_s": raw_eta,
        "raw_http_per_s": raw_http,
        "raw_http_eta_per_s": raw_http_eta,
        "ratio": mine / raw,
        "pairs": [{"ours_per_s": o["per_s"], "raw_per_s": r} for o, r in pairs],
        "variants": variants,
    }
    ctx.quiet()


def measured_pairs(ctx: Ctx, first: dict) -> list[tuple[dict, float]]:
    """Ours and raw no-ops, measured one right after the other `e2e_pairs` times: the
    machine's speed moves by the minute, and a pair sees the same speed."""
    pairs = [(first, raw_celery(ctx, "bench.noop", []))]
    for _ in range(ctx.mode.e2e_pairs - 1):
        pairs.append((ours(ctx, PROCFILE), raw_celery(ctx, "bench.noop", [])))
    return pairs


def compare_variants(ctx: Ctx, variants: list[dict], raw: float) -> None:
    """Each variant against raw Celery no-ops on as many worker processes."""
    raw_by_workers = {1: raw}
    for variant in variants:
        workers = variant["workers"]
        if workers not in raw_by_workers:
            raw_by_workers[workers] = raw_celery(ctx, "bench.noop", [], workers=workers)
        variant["raw_per_s"] = raw_by_workers[workers]
        variant["ratio"] = variant["per_s"] / variant["raw_per_s"]


def ours(ctx: Ctx, label: str, workers: int = 1, env: dict | None = None) -> dict:
    """The mode's runs, all due at once, through beat and `workers` worker processes (both
    with `env` added to their environment)."""
    from jobs.models import Run

    from . import load

    b = ctx.bench
    n = ctx.mode.e2e_runs
    ctx.quiet()
    log(f"end-to-end: {n:,} HTTP runs due at once, {label}")
    procs = [
        b.start_worker("worker" if i == 0 else f"worker{i + 1}", env=env) for i in range(workers)
    ]
    beat = b.start_beat(env=env)
    tpl = far_template(ctx, "2099-01-01T00:00:00Z", "/e2e")
    t0 = time.time() + 3
    pids = [p.proc.pid for p in procs] + [beat.proc.pid]
    cpu0 = [cpu_seconds(pid) for pid in pids]
    snap0 = ctx.monitor.snapshot() if ctx.monitor else None
    load.clone(tpl, n, once=True, due="to_timestamp(%(t0)s)", params={"t0": t0})
    wal0 = wal_bytes()  # from the runs' planning on, the jobs' load left out
    deadline = time.monotonic() + 600
    while Run.objects.filter(status__in=FINISHED).count() < n and time.monotonic() < deadline:
        time.sleep(0.25)
    cpu1 = [cpu_seconds(pid) for pid in pids]
    snap1 = ctx.monitor.snapshot() if ctx.monitor else None
    out = run_figures(label, workers, cpu0, cpu1, wal_bytes() - wal0)
    if snap0 and snap1:
        out["pg_cpu_ms_per_run"] = (snap1["pg"] - snap0["pg"]) / max(out["succeeded"], 1) * 1000
        out["others_cores"] = CpuMonitor.between(snap0, snap1)["others"]
    log(
        f"  -> {out['succeeded']:,} runs succeeded at {out['per_s']:,.0f}/s; worker CPU "
        f"{out['worker_cpu_ms_per_run']:.1f} ms/run, PostgreSQL "
        f"{out.get('pg_cpu_ms_per_run', math.nan):.1f} ms/run, "
        f"{out['wal_bytes_per_run']:,.0f} bytes of WAL/run"
    )
    return out


def run_figures(label: str, workers: int, cpu0: list, cpu1: list, wal: int) -> dict:
    """Rate and cost per run from the finished runs; CPU lists end with beat's."""
    from django.db.models import Max, Min

    from jobs.models import Run

    agg = Run.objects.aggregate(first=Min("started_at"), last=Max("finished_at"))
    done = Run.objects.filter(status="succeeded").count()
    return {
        "label": label,
        "workers": workers,
        "succeeded": done,
        "per_s": done / (agg["last"] - agg["first"]).total_seconds(),
        "worker_cpu_ms_per_run": sum(b - a for a, b in zip(cpu0[:-1], cpu1[:-1], strict=True))
        / max(done, 1)
        * 1000,
        "beat_cpu_ms_per_run": (cpu1[-1] - cpu0[-1]) / max(done, 1) * 1000,
        "wal_bytes_per_run": wal / max(done, 1),
    }


def raw_celery(
    ctx: Ctx, task: str, args: list, workers: int = 1, eta_ahead: float | None = None
) -> float:
    """Raw Celery on the same worker configuration drains the mode's number of `task`s:
    tasks per second, from the first message taken until the queue and the unacked set are
    empty. With `eta_ahead`, every message carries one ETA that far away, as our fires do
    (published up to DISPATCH_LOOKAHEAD early), and is sent to running workers: drained
    from the ETA on."""
    n = ctx.mode.e2e_runs
    ctx.quiet()
    eta_text = " with an ETA" if eta_ahead is not None else ""
    log(
        f"end-to-end: {n:,} raw Celery {task} tasks{eta_text}, same worker configuration x{workers}"
    )
    eta = None
    if eta_ahead is not None:
        start_raw_workers(ctx, workers, wait=True)
        eta = time.time() + eta_ahead
    send_raw(task, args, n, eta)
    r = ctx.redis()
    if eta is None:
        assert r.llen("bench") == n, r.llen("bench")
        start_raw_workers(ctx, workers, wait=False)
    first = eta
    deadline = time.monotonic() + 600
    while True:
        assert time.monotonic() < deadline, f"raw {task} tasks not drained"
        left = r.llen("bench")
        now = time.time()
        if first is None and left < n:
            first = now
        if now >= (eta or 0) and left == 0 and r.hlen("unacked") == 0:
            break
        time.sleep(0.002)
    rate = n / (now - first)
    log(f"  -> {rate:,.0f}/s")
    return rate


def start_raw_workers(ctx: Ctx, workers: int, *, wait: bool) -> None:
    for i in range(workers):
        name = "worker" if i == 0 else f"worker{i + 1}"
        ctx.bench.start_worker(name, app="bench.baseline_app", queues="bench", wait=wait)


def send_raw(task: str, args: list, n: int, eta: float | None) -> None:
    """`n` messages of `task` on the `bench` queue, in batches, with the ETA `eta` if given."""
    from .baseline_app import app

    when = None if eta is None else datetime.fromtimestamp(eta, UTC)
    with app.producer_or_acquire() as producer, producer.batch(max_size=1000):
        for _ in range(n):
            app.send_task(task, args=args, queue="bench", producer=producer, eta=when)
