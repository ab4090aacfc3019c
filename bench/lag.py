"""Fire lag: how late a fire reaches the target (received - due) under steady loads and a
burst, and how long a `now` job takes from its POST to the target."""

from __future__ import annotations

import http.client
import json
import math
import time

from .context import Ctx, far_template, log, wait_runs_done
from .infra import Bench
from .stats import summary_ms

# Fires are due this far ahead of their load: beyond the dispatcher's lookahead (2 s).
LEAD_S = 4.0


def bench_fire_lag(ctx: Ctx) -> None:
    b = ctx.bench
    ctx.quiet()
    b.start_worker()
    b.start_beat()
    tpl = far_template(ctx, "2099-01-01T00:00:00Z", "/tpl")
    results: dict[str, dict] = {}
    run_loads(ctx, tpl, results, suffix="")
    if not ctx.skip_variants:
        # The same loads with a second worker process (one per core).
        b.start_worker("worker2")
        run_loads(ctx, tpl, results, suffix=", two worker processes")
        b.stop("worker2")
    ctx.results["fire_lag"] = results
    now_lag(ctx)
    wait_runs_done(60)
    ctx.quiet()


def run_loads(ctx: Ctx, tpl, results: dict, *, suffix: str) -> None:
    """A warm-up, then every load of the mode; each one's lags into `results` and the plot."""
    if not suffix:
        log("fire lag: warm-up (200 fires)")
    fire(ctx, tpl, "warmup", 100, 200)
    for label, rate, count in ctx.mode.lag_loads:
        name = f"{label}{suffix}"
        log(f"fire lag: {name} ({count} fires at {rate:g}/s)")
        results[name], ctx.lags[name] = fire(ctx, tpl, name, rate, count)
        log(f"  -> {fmt_lag(results[name])}")


def fire(ctx: Ctx, tpl, label: str, rate: float, count: int) -> tuple[dict, list[float]]:
    """`count` one-off fires due `rate` a second from LEAD_S on; their summary and lags."""
    slug = label.replace("/", "ps").replace(" ", "_").replace(",", "")
    ctx.target.dump()
    dropped0 = dropped(ctx.bench)
    t0 = time.time() + LEAD_S
    step = 1.0 / rate
    from . import load

    load.clone(
        tpl,
        count,
        once=True,
        due="to_timestamp(%(t0)s + i * %(step)s)",
        uri=f"%(base)s || '/lag/{slug}/' || i",
        params={"t0": t0, "step": step, "base": ctx.target_url},
    )
    got = ctx.target.wait_count(count, timeout=count / rate + 120)
    lags, arrivals = arrivals_of(ctx.target.dump(), slug, t0, step)
    wait_runs_done(120)
    drain(ctx)
    out = summary_ms(lags)
    out.update(
        dropped=dropped(ctx.bench) - dropped0,
        fires=count,
        received=got,
        rate=rate,
        all_started_after_s=(max(arrivals) - t0) if arrivals else math.nan,
        delivered_per_s=(len(arrivals) / (max(arrivals) - min(arrivals)))
        if len(arrivals) > 1
        else math.nan,
    )
    return out, lags


def dropped(bench: Bench) -> int:
    """The "run dropped" lines of every worker process so far."""
    return sum(
        p.own_log_text().count("run dropped")
        for name, p in bench.processes.items()
        if name.startswith("worker")
    )


def arrivals_of(
    records: list[tuple[float, str]], slug: str, t0: float, step: float
) -> tuple[list[float], list[float]]:
    """The lags (arrival - due) and arrival times of the fires of load `slug`."""
    lags, arrivals = [], []
    for arrived, path in records:
        parts = path.split("/")
        if len(parts) == 4 and parts[1] == "lag" and parts[2] == slug:
            lags.append(arrived - (t0 + int(parts[3]) * step))
            arrivals.append(arrived)
    return lags, arrivals


def drain(ctx: Ctx, timeout: float = 180) -> None:
    """Wait until the queue and the unacked set are empty: messages the reaper published
    again while runs waited in a backlog are dropped by the worker (a claim each), and the
    next load starts clean."""
    r = ctx.redis()
    deadline = time.monotonic() + timeout
    while (r.llen("http") or r.hlen("unacked")) and time.monotonic() < deadline:
        time.sleep(0.2)


def now_lag(ctx: Ctx) -> None:
    """`now` jobs: POST, 201, request at the target; one at a time, 10 per second."""
    base = ctx.web()
    log(f"fire lag: {ctx.mode.now_jobs} `now` jobs through the API")
    ctx.target.dump()
    sent, answered = post_now_jobs(ctx, base)
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


def post_now_jobs(ctx: Ctx, base: str) -> tuple[dict[int, float], dict[int, float]]:
    """POST the mode's `now` jobs one by one; when each was sent and when its 201 came."""
    conn = http.client.HTTPConnection(base.removeprefix("http://"), timeout=30)
    headers = {"Authorization": f"Token {ctx.token}", "Content-Type": "application/json"}
    sent, answered = {}, {}
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
    return sent, answered


def fmt_lag(s: dict) -> str:
    return (
        f"n={s['n']} p50 {s['p50']:.0f} ms, p95 {s['p95']:.0f}, "
        f"p99 {s['p99']:.0f}, max {s['max']:.0f}"
    )
