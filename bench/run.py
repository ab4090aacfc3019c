"""The benchmark driver: `python -m bench [--full] [--only NAME,...] [--no-write]`.

One invocation runs every benchmark on one fresh PostgreSQL database and one private
Redis, side by side with its comparison (raw Celery, django-celery-beat), prints a table
and writes it to docs/benchmarks.md (between the `bench:begin` / `bench:end` marks) with
the fire-lag plot beside it. See docs/benchmarks.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from . import profile, report
from .api import bench_api
from .apply import bench_apply
from .baseline import bench_baseline
from .context import FULL, QUICK, Ctx, Mode, log, make_user, setup_django
from .dispatch import bench_dispatch
from .e2e import bench_e2e
from .infra import ROOT, Bench, CpuMonitor, TargetClient
from .lag import bench_fire_lag
from .notify import bench_notify
from .observe import bench_observe

BENCHES = {
    "lag": bench_fire_lag,
    "dispatch": bench_dispatch,
    "e2e": bench_e2e,
    "api": bench_api,
    "baseline": bench_baseline,
    "notify": bench_notify,
    "observe": bench_observe,
    "apply": bench_apply,
}


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    """The options, and the names of the benchmarks to run (in BENCHES' order or --only's)."""
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
    selected = [n for n in (args.only.split(",") if args.only else BENCHES) if n]
    for name in selected:
        if name not in BENCHES:
            parser.error(f"unknown benchmark {name!r}")
    return args, selected


def main(argv: list[str] | None = None) -> int:
    args, selected = parse_args(argv)
    mode = FULL if args.full else QUICK
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
            run_selected(ctx, selected, with_profiles=args.profile, workdir=workdir)
            postgres = _pg_version()
        finally:
            from django.db import connections

            connections.close_all()
    meta = run_meta(mode, command, postgres, took=time.monotonic() - began)
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


def run_selected(ctx: Ctx, selected: list[str], *, with_profiles: bool, workdir: Path) -> None:
    """The bench user and target, then each benchmark with the cores it and others used;
    the profiles last if asked for."""
    bench = ctx.bench
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
    if with_profiles:
        ctx.results["profile"] = profile.run_all(ctx, selected)
        log(f"profiles written to {workdir}")


def run_meta(mode: Mode, command: str, postgres: str, *, took: float) -> dict:
    """The report's header: when, on what machine, with which command, how long."""
    return {
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
