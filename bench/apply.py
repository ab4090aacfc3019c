"""`sched apply` of many jobs against the web process as the Procfile starts it: the
creations/s of a first apply (every job new), then the time of the same file applied again
(nothing to write: the namespace listed once), and the CLI's own CPU for each."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import time

from .context import Ctx, log
from .infra import VENV_BIN

JOBS = 10_000


def bench_apply(ctx: Ctx, jobs: int = JOBS) -> None:
    from jobs.models import Job

    ctx.quiet()
    base = ctx.web()
    folder = ctx.bench.workdir
    path = folder / "apply-jobs.json"  # YAML's superset: the same file apply reads
    spec = {
        "product": "bench",
        "group": "apply",
        "jobs": [
            {
                "name": f"job-{i:05d}",
                "task": {"type": "http", "method": "POST", "uri": f"{ctx.target_url}/api"},
                "schedule": {"every": "1h"},
            }
            for i in range(jobs)
        ],
    }
    path.write_text(json.dumps(spec))
    env = {**os.environ, "SCHED_URL": base, "SCHED_TOKEN": ctx.token}
    before = Job.objects.count()
    log(f"apply: sched apply of {jobs:,} new jobs (gunicorn 2x4)")
    first = _apply(path, env)
    created = Job.objects.count() - before
    log(
        f"  -> {created:,} created in {first['seconds']:.1f} s: "
        f"{created / first['seconds']:,.0f} creations/s; the CLI's CPU {first['cpu_s']:.1f} s"
    )
    again = _apply(path, env)
    log(
        f"  -> the same file again: {again['seconds']:.2f} s, "
        f"{Job.objects.count() - before - created} written; the CLI's CPU {again['cpu_s']:.2f} s"
    )
    ctx.results["apply"] = {
        "jobs": jobs,
        "created": created,
        "per_s": created / first["seconds"],
        "first": first,
        "again": again,
    }
    ctx.quiet()


def _apply(path, env) -> dict:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [str(VENV_BIN / "sched"), "apply", "-f", str(path), "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"sched apply failed ({done.returncode}):\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    return {"seconds": seconds, "cpu_s": cpu, "output": done.stdout[-500:]}
