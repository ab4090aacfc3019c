"""The benchmark driver: `python -m bench [--full] [--only NAME,...] [--no-write]`.

One invocation runs every benchmark on one fresh PostgreSQL database and one private
Redis, side by side with its comparison (raw Celery, django-celery-beat), prints a table
and writes it to docs/benchmarks.md (between the `bench:begin` / `bench:end` marks) with
the fire-lag plot beside it. See docs/benchmarks.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import platform
import shlex
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.broker import queued

from .api_load import post_jobs
from .infra import ROOT, Bench, CpuMonitor, TargetClient, rss_mib, wal_bytes
from .stats import cpu_seconds, summary_ms

FINISHED = ("succeeded", "failed", "timed_out", "canceled", "vetoed", "skipped", "missed", "lost")


@dataclass
class Mode:
    name: str
    lag_loads: list[tuple[str, float, int]]  # (label, fires per second, fires)
    now_jobs: int
    sizes: list[int]
    due: int
    e2e_runs: int
    api_seconds: float
    baseline_jobs: int
    baseline_every: int
    baseline_window: float
    rss_window: float
    repeats: int = 3
    e2e_pairs: int = 3  # end-to-end: ours and raw no-ops, this many times one after the other


QUICK = Mode(
    name="quick",
    lag_loads=[("100/s", 100, 1000), ("300/s", 300, 1500), ("burst", 1000, 1000)],
    now_jobs=100,
    sizes=[10_000, 100_000],
    due=5_000,
    e2e_runs=2_000,
    api_seconds=10,
    baseline_jobs=10_000,
    baseline_every=10,
    baseline_window=60,
    rss_window=10,
)
FULL = Mode(
    name="full",
    lag_loads=[("100/s", 100, 3000), ("300/s", 300, 6000), ("burst", 1000, 1000)],
    now_jobs=300,
    sizes=[10_000, 100_000, 1_000_000],
    due=5_000,
    e2e_runs=5_000,
    api_seconds=30,
    baseline_jobs=10_000,
    baseline_every=10,
    baseline_window=60,
    rss_window=20,
)


@dataclass
class Ctx:
    bench: Bench
    mode: Mode
    user: Any = None
    token: str = ""
    target_url: str = ""
    target: TargetClient | None = None
    web_url: str = ""
    results: dict[str, Any] = field(default_factory=dict)
    lags: dict[str, list[float]] = field(default_factory=dict)  # for the plot
    monitor: CpuMonitor | None = None
    skip_variants: bool = False

    def redis(self):
        import redis

        return redis.Redis.from_url(self.bench.redis.url)

    def quiet(self) -> None:
        """Stop worker and beat, empty Redis and the jobs: a clean slate for the next figure."""
        for name in list(self.bench.processes):
            if name in ("target", "web"):
                continue
            self.bench.stop(name)
        self.redis().flushall()
        from . import load

        load.reset()
        if self.target is not None:
            self.target.dump()


def log(msg: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {msg}", flush=True)


# ---------------------------------------------------------------- setup


def setup_django(bench: Bench) -> None:
    # The product's settings of the bench's processes (database, limits, egress), here too.
    for key, value in bench.env.items():
        if key != "PATH":
            os.environ[key] = value
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def make_user(ctx: Ctx) -> None:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    ctx.user = get_user_model().objects.create_user("bench", "bench@example.com", "bench-pass")
    ctx.token = Token.objects.create(user=ctx.user).key


def runs_left() -> int:
    from jobs.models import Run

    return Run.objects.exclude(status__in=FINISHED).count()


def wait_runs_done(timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while runs_left() and time.monotonic() < deadline:
        time.sleep(0.2)


def far_template(ctx: Ctx, schedule: Any, path: str):
    """A template job (made by the product's service) that never fires by itself."""
    from jobs.models import Job

    from . import load

    tpl = load.template(
        ctx.user,
        {"task": {"method": "GET", "uri": f"{ctx.target_url}{path}"}, "schedule": schedule},
    )
    Job.objects.filter(id=tpl.id).update(next_run_at=None)
    return tpl


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


# ---------------------------------------------------------------- 1. fire lag


def bench_fire_lag(ctx: Ctx) -> None:
    from . import load

    b = ctx.bench
    ctx.quiet()
    b.start_worker()
    b.start_beat()
    tpl = far_template(ctx, "2099-01-01T00:00:00Z", "/tpl")

    def fire(label: str, rate: float, count: int) -> dict:
        slug = label.replace("/", "ps").replace(" ", "_").replace(",", "")
        ctx.target.dump()

        def dropped() -> int:  # "run dropped" lines of every worker process
            return sum(
                p.own_log_text().count("run dropped")
                for name, p in b.processes.items()
                if name.startswith("worker")
            )

        dropped0 = dropped()
        t0 = time.time() + 4.0  # beyond the dispatcher's 2 s lookahead
        step = 1.0 / rate
        load.clone(
            tpl,
            count,
            once=True,
            due="to_timestamp(%(t0)s + i * %(step)s)",
            uri=f"%(base)s || '/lag/{slug}/' || i",
            params={"t0": t0, "step": step, "base": ctx.target_url},
        )
        got = ctx.target.wait_count(count, timeout=count / rate + 120)
        records = ctx.target.dump()
        lags, arrivals = [], []
        for arrived, path in records:
            parts = path.split("/")
            if len(parts) == 4 and parts[1] == "lag" and parts[2] == slug:
                lags.append(arrived - (t0 + int(parts[3]) * step))
                arrivals.append(arrived)
        wait_runs_done(120)
        # Messages the reaper published again while runs waited in a backlog: the worker
        # drops them (a claim each); wait until they are gone so the next load starts clean.
        r = ctx.redis()
        deadline = time.monotonic() + 180
        while (r.llen("http") or r.hlen("unacked")) and time.monotonic() < deadline:
            time.sleep(0.2)
        out = summary_ms(lags)
        out.update(
            dropped=dropped() - dropped0,
            fires=count,
            received=got,
            rate=rate,
            all_started_after_s=(max(arrivals) - t0) if arrivals else math.nan,
            delivered_per_s=(len(arrivals) / (max(arrivals) - min(arrivals)))
            if len(arrivals) > 1
            else math.nan,
        )
        return out, lags

    log("fire lag: warm-up (200 fires)")
    fire("warmup", 100, 200)
    results = {}
    for label, rate, count in ctx.mode.lag_loads:
        log(f"fire lag: {label} ({count} fires at {rate:g}/s)")
        results[label], ctx.lags[label] = fire(label, rate, count)
        log(f"  -> {fmt_lag(results[label])}")
    if not ctx.skip_variants:
        # The same loads with a second worker process (one per core).
        b.start_worker("worker2")
        fire("warmup", 100, 200)
        for label, rate, count in ctx.mode.lag_loads:
            name = f"{label}, two worker processes"
            log(f"fire lag: {name} ({count} fires at {rate:g}/s)")
            results[name], ctx.lags[name] = fire(name, rate, count)
            log(f"  -> {fmt_lag(results[name])}")
        b.stop("worker2")
    ctx.results["fire_lag"] = results

    # `now` jobs: POST, 201, request at the target; one at a time, 10 per second.
    if not ctx.web_url:
        ctx.web_url = b.start_web()
    log(f"fire lag: {ctx.mode.now_jobs} `now` jobs through the API")
    conn = http.client.HTTPConnection(ctx.web_url.removeprefix("http://"), timeout=30)
    headers = {"Authorization": f"Token {ctx.token}", "Content-Type": "application/json"}
    sent, answered = {}, {}
    ctx.target.dump()
    for i in range(ctx.mode.now_jobs):
        body = json.dumps({"task": {"uri": f"{ctx.target_url}/now/{i}"}, "schedule": "now"})
        sent[i] = time.time()
        conn.request("POST", "/api/v1/jobs", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        answered[i] = time.time()
        if response.status != 201:
            raise RuntimeError(f"POST /jobs: {response.status}")
        time.sleep(0.1)
    conn.close()
    ctx.target.wait_count(ctx.mode.now_jobs, timeout=60)
    from_201, from_post = [], []
    for arrived, path in ctx.target.dump():
        parts = path.split("/")
        if len(parts) == 3 and parts[1] == "now":
            i = int(parts[2])
            from_201.append(arrived - answered[i])
            from_post.append(arrived - sent[i])
    ctx.results["now_lag"] = {"from_201": summary_ms(from_201), "from_post": summary_ms(from_post)}
    ctx.lags["now (from 201)"] = from_201
    log(f"  -> from 201: {fmt_lag(ctx.results['now_lag']['from_201'])}")
    wait_runs_done(60)
    ctx.quiet()


def fmt_lag(s: dict) -> str:
    return (
        f"n={s['n']} p50 {s['p50']:.0f} ms, p95 {s['p95']:.0f}, "
        f"p99 {s['p99']:.0f}, max {s['max']:.0f}"
    )


# ---------------------------------------------------------------- 2. dispatch capacity


def bench_dispatch(ctx: Ctx) -> None:
    from django.utils import timezone

    import jobs.dispatch as dispatch_module
    from jobs.models import Run
    from jobs.tasks import execute_run

    b = ctx.bench
    rows = []
    for size in ctx.mode.sizes:
        ctx.quiet()
        due = ctx.mode.due
        log(f"dispatch: loading {size:,} jobs ({due:,} due)")
        started = time.monotonic()
        load_dispatch_jobs(ctx, size, due)
        load_s = time.monotonic() - started

        # Each measurement is repeated (the machine is shared): the median is reported.
        from django.db import connection

        def rewind() -> None:
            """Put the due jobs back as they were before a dispatch, and empty the queue."""
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM jobs_run")
                cursor.execute(
                    "UPDATE jobs_job SET next_run_at = next_run_at - interval '1 hour', "
                    "fire_count = fire_count - 1 WHERE fire_count > 0"
                )
            ctx.redis().flushall()

        def product() -> dict:
            """The product's dispatch(), with the time in its publish() measured apart."""
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
            # The same runs again, as plain Celery sends them: apply_async, a message each.
            ctx.redis().flushall()
            runs = list(Run.objects.only("id", "due_at"))
            t = time.perf_counter()
            for run in runs:
                execute_run.apply_async(args=[str(run.id)], queue="http", eta=run.due_at)
            one_by_one = time.perf_counter() - t
            return {
                "fired": fired,
                "fires_per_s": fired / elapsed,
                "plan_per_s": fired / (elapsed - spent["publish"]),
                "publish_per_s": fired / spent["publish"],
                "apply_async_per_s": ctx.redis().llen("http") / one_by_one,
                "wal_bytes_per_fire": wal / max(fired, 1),
            }

        samples = []
        for repeat in range(ctx.mode.repeats):
            if repeat:
                rewind()
            samples.append(product())
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

        # Memory: beat and worker running for a while at this size, 100 fires/s flowing.
        ctx.redis().flushall()
        Run.objects.all().delete()
        trickle = min(due, int(100 * ctx.mode.rss_window))
        t0 = time.time() + 3
        from jobs.models import Job

        ids = list(
            Job.objects.filter(next_run_at__isnull=False)
            .order_by("next_run_at")
            .values_list("id", flat=True)[:trickle]
        )

        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE jobs_job SET next_run_at = to_timestamp(%s + (x.n - 1) * 0.01), "
                "anchor_at = to_timestamp(%s + (x.n - 1) * 0.01) FROM "
                "(SELECT id, row_number() OVER () AS n FROM unnest(%s::uuid[]) AS id) x "
                "WHERE jobs_job.id = x.id",
                [t0, t0, ids],
            )
        worker = b.start_worker()
        beat = b.start_beat()
        peak = {"worker": 0.0, "beat": 0.0}
        end = time.monotonic() + ctx.mode.rss_window
        while time.monotonic() < end:
            peak["worker"] = max(peak["worker"], rss_mib(worker.proc.pid))
            peak["beat"] = max(peak["beat"], rss_mib(beat.proc.pid))
            time.sleep(0.5)
        row["rss_worker_mib"] = peak["worker"]
        row["rss_beat_mib"] = peak["beat"]
        log(f"  -> RSS beat {peak['beat']:.0f} MiB, worker {peak['worker']:.0f} MiB")
        b.stop("beat")
        b.stop("worker")
        rows.append(row)
    ctx.results["dispatch"] = rows
    ctx.quiet()


# ---------------------------------------------------------------- 3. end-to-end throughput


def bench_e2e(ctx: Ctx) -> None:
    from django.db.models import Max, Min

    from jobs.models import Run

    from . import load

    b = ctx.bench
    n = ctx.mode.e2e_runs

    def ours(label: str, workers: int = 1, env: dict | None = None) -> dict:
        ctx.quiet()
        log(f"end-to-end: {n:,} HTTP runs due at once, {label}")
        procs = [b.start_worker("worker" if i == 0 else f"worker{i + 1}") for i in range(workers)]
        beat = b.start_beat(env=env)
        tpl = far_template(ctx, "2099-01-01T00:00:00Z", "/e2e")
        t0 = time.time() + 3
        cpu0 = [cpu_seconds(p.proc.pid) for p in procs] + [cpu_seconds(beat.proc.pid)]
        snap0 = ctx.monitor.snapshot() if ctx.monitor else None
        load.clone(tpl, n, once=True, due="to_timestamp(%(t0)s)", params={"t0": t0})
        wal0 = wal_bytes()  # from the runs' planning on, the jobs' load left out
        deadline = time.monotonic() + 600
        while Run.objects.filter(status__in=FINISHED).count() < n and time.monotonic() < deadline:
            time.sleep(0.25)
        cpu1 = [cpu_seconds(p.proc.pid) for p in procs] + [cpu_seconds(beat.proc.pid)]
        snap1 = ctx.monitor.snapshot() if ctx.monitor else None
        wal = wal_bytes() - wal0
        agg = Run.objects.aggregate(first=Min("started_at"), last=Max("finished_at"))
        done = Run.objects.filter(status="succeeded").count()
        rate = done / (agg["last"] - agg["first"]).total_seconds()
        out = {
            "label": label,
            "workers": workers,
            "succeeded": done,
            "per_s": rate,
            "worker_cpu_ms_per_run": sum(
                b_ - a_ for a_, b_ in zip(cpu0[:-1], cpu1[:-1], strict=True)
            )
            / max(done, 1)
            * 1000,
            "beat_cpu_ms_per_run": (cpu1[-1] - cpu0[-1]) / max(done, 1) * 1000,
            "wal_bytes_per_run": wal / max(done, 1),
        }
        if snap0 and snap1:
            out["pg_cpu_ms_per_run"] = (snap1["pg"] - snap0["pg"]) / max(done, 1) * 1000
            out["others_cores"] = CpuMonitor.between(snap0, snap1)["others"]
        log(
            f"  -> {done:,} runs succeeded at {rate:,.0f}/s; worker CPU "
            f"{out['worker_cpu_ms_per_run']:.1f} ms/run, PostgreSQL "
            f"{out.get('pg_cpu_ms_per_run', math.nan):.1f} ms/run, "
            f"{out['wal_bytes_per_run']:,.0f} bytes of WAL/run"
        )
        return out

    procfile = "worker and beat as in the Procfile"
    variants = [ours(procfile)]
    if not ctx.skip_variants:
        variants.append(ours("two worker processes as in the Procfile", workers=2))
        # The same without bundles: what sending runs due together in one message gives.
        variants.append(
            ours(
                "one worker, a message per run (`DISPATCH_BUNDLE=1`)", env={"DISPATCH_BUNDLE": "1"}
            )
        )

    # Raw Celery: the same worker configuration drains n tasks: no-ops, then one GET each.
    def raw_celery(
        task: str, args: list, workers: int = 1, eta_ahead: float | None = None
    ) -> float:
        """Tasks per second drained, from the first message taken until the queue and the
        unacked set are empty. With `eta_ahead`, every message carries one ETA that far
        away, as our fires do (published up to DISPATCH_LOOKAHEAD early), and is sent to
        running workers: drained from the ETA on."""
        ctx.quiet()
        eta_text = " with an ETA" if eta_ahead is not None else ""
        log(
            f"end-to-end: {n:,} raw Celery {task} tasks{eta_text}, "
            f"same worker configuration x{workers}"
        )
        from .baseline_app import app

        def start_workers(wait: bool) -> None:
            for i in range(workers):
                name = "worker" if i == 0 else f"worker{i + 1}"
                b.start_worker(name, app="bench.baseline_app", queues="bench", wait=wait)

        eta = None
        if eta_ahead is not None:
            start_workers(wait=True)
            eta = time.time() + eta_ahead
        when = None if eta is None else datetime.fromtimestamp(eta, UTC)
        with app.producer_or_acquire() as producer, producer.batch(max_size=1000):
            for _ in range(n):
                app.send_task(task, args=args, queue="bench", producer=producer, eta=when)
        r = ctx.redis()
        if eta is None:
            assert r.llen("bench") == n, r.llen("bench")
            start_workers(wait=False)
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

    # The figure the target is set on, ours / raw no-ops, as pairs measured one right after
    # the other: the machine's speed moves by the minute, and a pair sees the same speed.
    pairs = [(variants[0], raw_celery("bench.noop", []))]
    for _ in range(ctx.mode.e2e_pairs - 1):
        pairs.append((ours(procfile), raw_celery("bench.noop", [])))
    pair_ratios = [o["per_s"] / r for o, r in pairs]
    variants[0], raw = pairs[pair_ratios.index(statistics.median_low(pair_ratios))]
    raw_eta = raw_celery("bench.noop", [], eta_ahead=5.0)
    raw_http = raw_celery("bench.fire", [f"{ctx.target_url}/rawfire"])
    raw_http_eta = raw_celery("bench.fire", [f"{ctx.target_url}/rawfire"], eta_ahead=5.0)
    raw_by_workers = {1: raw}
    for variant in variants[1:]:  # compared with raw Celery on as many worker processes
        workers = variant["workers"]
        if workers not in raw_by_workers:
            raw_by_workers[workers] = raw_celery("bench.noop", [], workers=workers)
        variant["raw_per_s"] = raw_by_workers[workers]
        variant["ratio"] = variant["per_s"] / variant["raw_per_s"]
    mine = variants[0]["per_s"]
    log(f"  -> raw Celery {raw:,.0f}/s; ratio {mine / raw:.2f}")
    ctx.results["e2e"] = {
        "runs": n,
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


# ---------------------------------------------------------------- 4. API


def bench_api(ctx: Ctx, clients: int = 16) -> None:
    from jobs.models import Job

    b = ctx.bench
    ctx.quiet()
    if not ctx.web_url:
        ctx.web_url = b.start_web()
    seconds = ctx.mode.api_seconds
    log(f"API: POST /jobs from {clients} client threads for {seconds:g} s (gunicorn 2x4)")
    out = post_jobs(
        ctx.web_url, ctx.token, seconds, target=f"{ctx.target_url}/api", clients=clients
    )
    out.update(clients=clients, created=Job.objects.count())
    log(
        f"  -> {out['per_s']:,.0f} creations/s, p50 {out['p50']:.0f} ms, p99 {out['p99']:.0f} ms, "
        f"{out['errors']} errors"
    )
    ctx.results["api"] = out
    ctx.quiet()


# ---------------------------------------------------------------- 5. django-celery-beat baseline


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


# ---------------------------------------------------------------- report

BENCHES = {
    "lag": bench_fire_lag,
    "dispatch": bench_dispatch,
    "e2e": bench_e2e,
    "api": bench_api,
    "baseline": bench_baseline,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--full", action="store_true", help="larger sizes (1M jobs)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(BENCHES)}")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/ alone")
    parser.add_argument(
        "--no-variants",
        action="store_true",
        help="skip the variants (two worker processes) of fire lag and end-to-end",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile dispatch, one run, worker and beat (bench/profile.py)",
    )
    args = parser.parse_args(argv)
    mode = FULL if args.full else QUICK
    selected = [n for n in (args.only.split(",") if args.only else BENCHES) if n]
    for name in selected:
        if name not in BENCHES:
            parser.error(f"unknown benchmark {name!r}")
    command = (
        os.environ.get("BENCH_COMMAND")
        or ("python -m bench " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))).strip()
    )
    workdir = ROOT / "var" / "bench" / datetime.now().strftime("%Y%m%d-%H%M%S")
    began = time.monotonic()
    log(f"{mode.name} mode, {os.cpu_count()} cores; logs in {workdir}")
    with Bench(workdir) as bench:
        setup_django(bench)
        ctx = Ctx(bench=bench, mode=mode, skip_variants=args.no_variants)
        try:
            make_user(ctx)
            ctx.target_url = bench.start_target()
            ctx.target = TargetClient(ctx.target_url)
            monitor = ctx.monitor = CpuMonitor(bench.db.name).start()
            ctx.results["cpu"] = {}
            for name in selected:
                before = monitor.snapshot()
                BENCHES[name](ctx)
                ctx.results["cpu"][name] = CpuMonitor.between(before, monitor.snapshot())
                log(
                    f"  CPU during {name}: "
                    + ", ".join(f"{k} {v:.2f}" for k, v in ctx.results["cpu"][name].items())
                )
            monitor.stop()
            if args.profile:
                from . import profile

                ctx.results["profile"] = profile.run_all(ctx)
                log(f"profiles written to {workdir}")
            postgres = _pg_version()
        finally:
            from django.db import connections

            connections.close_all()
    took = time.monotonic() - began
    from . import report

    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "machine": (
            f"{platform.machine()}, {_mem_gib():.0f} GiB, Python {platform.python_version()}"
        ),
        "postgres": postgres,
        "command": command,
        "mode": mode.name,
        "took_s": took,
    }
    text = report.render(ctx.results, meta)
    print(text)
    (workdir / "results.json").write_text(
        json.dumps({"meta": meta, "results": ctx.results, "lags": ctx.lags}, default=str, indent=1)
    )
    if not args.no_write and len(selected) == len(BENCHES):
        report.write(text, ctx.lags, meta)
        log("wrote docs/benchmarks.md and docs/benchmarks-fire-lag.png")
    elif not args.no_write:
        log("a subset ran: docs/benchmarks.md left as it was (results.json in the log folder)")
    return 0


def _mem_gib() -> float:
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/meminfo") as f:
            return int(f.readline().split()[1]) / 1024 / 1024
    return math.nan


def _pg_version() -> str:
    from django.db import connection

    with contextlib.suppress(Exception):
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0]
    return "?"


if __name__ == "__main__":
    sys.exit(main())
