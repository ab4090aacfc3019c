"""Where the time goes: `python -m bench --profile` (also part of `make bench-full`).

- dispatch: `jobs.dispatch.dispatch()` under pyinstrument, in process, with 100,000 jobs
  (5,000 due), and the SQL it sends (Django's CaptureQueriesContext);
- one run: the SQL of `jobs.runner.execute()` for one HTTP run, in process;
- worker and beat: py-spy (`--gil`: only samples holding the GIL, i.e. the CPU that
  serializes a threads-pool worker) while 2,000 HTTP runs go through them.

Writes profile-*.txt (and pyinstrument HTML) into the run's log folder and returns a
short summary for the report.
"""

from __future__ import annotations

import collections
import re
import subprocess
import time
from pathlib import Path

from .context import far_template, log, wait_runs_done
from .dispatch import load_dispatch_jobs
from .infra import VENV_BIN


def _sql_shape(sql: str) -> str:
    sql = re.sub(r"'[^']*'", "?", sql)
    sql = re.sub(r"\b\d+(\.\d+)?\b", "?", sql)
    sql = re.sub(r"\(\s*\?(\s*,\s*\?)*\s*\)", "(...)", sql)
    sql = re.sub(r"(\(\.\.\.\)\s*,\s*)+", "(...), ", sql)
    return sql[:160]


def queries(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries]


def summarize_queries(sqls: list[str]) -> list[tuple[int, str]]:
    shapes = collections.Counter(_sql_shape(s) for s in sqls)
    return [(n, shape) for shape, n in shapes.most_common()]


def py_spy(pid: int, seconds: float, out: Path, *, gil: bool = True) -> subprocess.Popen:
    argv = [
        str(VENV_BIN / "py-spy"),
        "record",
        "-p",
        str(pid),
        "-d",
        str(int(seconds)),
        "-r",
        "200",
        "--nonblocking",
        "-f",
        "raw",
        "-o",
        str(out),
    ]
    if gil:
        argv.append("--gil")
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def aggregate(raw: Path, top: int = 40, *, focus: str | None = None) -> str:
    """Inclusive and self shares of functions in a py-spy raw (collapsed) profile."""
    incl: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        if not line.strip():
            continue
        stack, n = line.rsplit(" ", 1)
        frames = [re.sub(r"\(/.*?(site-packages/|/main/)", "(", f) for f in stack.split(";")]
        if focus and not any(focus in f for f in frames):
            continue
        total += int(n)
        own[frames[-1]] += int(n)
        for f in set(frames):
            incl[f] += int(n)
    if not total:
        return "(no samples)"
    lines = [f"{total} samples" + (f" in stacks through {focus}" if focus else "")]
    lines.append("inclusive:")
    lines += [f"  {n / total * 100:5.1f}%  {f}" for f, n in incl.most_common(top)]
    lines.append("self:")
    lines += [f"  {n / total * 100:5.1f}%  {f}" for f, n in own.most_common(top // 2)]
    return "\n".join(lines)


def profile_dispatch(ctx, jobs: int = 100_000, due: int = 5_000) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from pyinstrument import Profiler

    import jobs.dispatch as dispatch_module

    ctx.quiet()
    log(f"profile: dispatch() with {jobs:,} jobs, {due:,} due, under pyinstrument")
    load_dispatch_jobs(ctx, jobs, due)
    profiler = Profiler(interval=0.0005)
    with CaptureQueriesContext(connection) as captured:
        profiler.start()
        t = time.perf_counter()
        fired = dispatch_module.dispatch(now=timezone.now())
        elapsed = time.perf_counter() - t
        profiler.stop()
    folder = ctx.bench.workdir
    (folder / "profile-dispatch.txt").write_text(
        profiler.output_text(unicode=False, color=False, show_all=False)
    )
    (folder / "profile-dispatch.html").write_text(profiler.output_html())
    sqls = queries(captured)
    shapes = summarize_queries(sqls)
    (folder / "profile-dispatch-sql.txt").write_text("\n".join(f"{n:6d}  {s}" for n, s in shapes))
    ctx.quiet()
    return {
        "fired": fired,
        "seconds": elapsed,
        "queries": len(sqls),
        "queries_per_batch": len(sqls) / max(1, -(-fired // 1000)),
        "top_sql": shapes[:8],
    }


def profile_one_run(ctx) -> dict:
    """The SQL of one HTTP run executed in process (claim, execute, finish)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from jobs import runner
    from jobs.models import Run

    from . import load

    ctx.quiet()
    tpl = far_template(ctx, "2099-01-01T00:00:00Z", "/one")
    load.clone(tpl, 1, once=True, due="to_timestamp(%(t)s)", params={"t": time.time() - 1})
    from jobs.dispatch import plan_due_fires

    plan_due_fires()
    run = Run.objects.get()
    with CaptureQueriesContext(connection) as captured:
        status = runner.execute(str(run.id))
    sqls = queries(captured)
    (ctx.bench.workdir / "profile-one-run-sql.txt").write_text("\n".join(sqls))
    begins = sum(1 for s in sqls if s.strip().upper().startswith(("SAVEPOINT", "BEGIN")))
    ctx.quiet()
    return {
        "status": status,
        "queries": len(sqls),
        "statements": [_sql_shape(s) for s in sqls],
        "transactions_hint": begins,
    }


def profile_processes(ctx, runs: int = 2_000, seconds: int = 12) -> dict:
    """py-spy on the worker and the beat while `runs` HTTP runs due at once go through."""
    from . import load

    b = ctx.bench
    ctx.quiet()
    log(f"profile: py-spy on worker and beat, {runs:,} HTTP runs due at once")
    worker = b.start_worker()
    beat = b.start_beat()
    tpl = far_template(ctx, "2099-01-01T00:00:00Z", "/prof")
    t0 = time.time() + 3
    load.clone(tpl, runs, once=True, due="to_timestamp(%(t0)s)", params={"t0": t0})
    time.sleep(max(0.0, t0 - time.time() - 2.5))
    folder = ctx.bench.workdir
    spies = [
        py_spy(worker.proc.pid, seconds, folder / "pyspy-worker-gil.txt"),
        py_spy(worker.proc.pid, seconds, folder / "pyspy-worker-wall.txt", gil=False),
        py_spy(beat.proc.pid, seconds, folder / "pyspy-beat-gil.txt"),
    ]
    for spy in spies:
        spy.wait(seconds + 30)
    wait_runs_done(300)
    out = {}
    for name in ("worker-gil", "worker-wall", "beat-gil"):
        raw = folder / f"pyspy-{name}.txt"
        text = aggregate(raw) if raw.exists() else "(py-spy wrote nothing)"
        (folder / f"profile-{name}.txt").write_text(text)
        out[name] = text
    focus = folder / "pyspy-worker-gil.txt"
    if focus.exists():
        text = aggregate(focus, focus="execute_run (jobs/tasks.py")
        (folder / "profile-worker-gil-execute_run.txt").write_text(text)
        out["worker-gil-execute_run"] = text
    ctx.quiet()
    return out


def profile_notify(ctx, seconds: int = 60) -> dict:
    """py-spy on the worker while the notify benchmark's jobs, a rule each, run and their
    notifications are delivered (bench/notify.py)."""
    from .notify import measure

    folder = ctx.bench.workdir
    spies = []

    def spy(pid: int) -> None:
        spies.append(py_spy(pid, seconds, folder / "pyspy-notify-worker-gil.txt"))
        spies.append(py_spy(pid, seconds, folder / "pyspy-notify-worker-wall.txt", gil=False))

    log(f"profile: py-spy on the worker, notify rules on every job, {seconds} s")
    measure(ctx, rules=True, started=spy)
    for process in spies:
        process.wait(seconds + 30)
    out = {}
    for name, focus in (
        ("notify-worker-gil", None),
        ("notify-worker-wall", None),
        ("notify-worker-gil-delivery", "deliver_safely (notifications/delivery.py"),
        ("notify-worker-wall-delivery", "deliver_safely (notifications/delivery.py"),
        ("notify-worker-gil-finish", "finish (jobs/runner.py"),
    ):
        raw = folder / f"pyspy-{name.removesuffix('-delivery').removesuffix('-finish')}.txt"
        text = aggregate(raw, focus=focus) if raw.exists() else "(py-spy wrote nothing)"
        (folder / f"profile-{name}.txt").write_text(text)
        out[name] = text
    ctx.quiet()
    return out


def profile_api(ctx, seconds: int = 20, clients: int = 16) -> dict:
    """py-spy on each of the web's gunicorn workers while `clients` threads create jobs
    (bench/api_load.py)."""
    from .api_load import post_jobs

    base = ctx.web()
    master = ctx.bench.processes["web"].proc.pid
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    folder = ctx.bench.workdir
    log(f"profile: py-spy on {len(children)} web workers, POST /jobs from {clients} clients")
    spies = [
        py_spy(int(pid), seconds, folder / f"pyspy-api-web{i}-{kind}.txt", gil=kind == "gil")
        for i, pid in enumerate(children)
        for kind in ("gil", "wall")
    ]
    post_jobs(base, ctx.token, seconds + 2, target=f"{ctx.target_url}/api", clients=clients)
    for spy in spies:
        spy.wait(seconds + 30)
    out = {}
    for raw in sorted(folder.glob("pyspy-api-web*.txt")):
        name = raw.stem.removeprefix("pyspy-")
        text = aggregate(raw)
        (folder / f"profile-{name}.txt").write_text(text)
        out[name] = text
    return out


def run_all(ctx, selected: list[str] | None = None) -> dict:
    if selected == ["notify"]:  # `--only notify --profile`: that profile alone
        return {"notify": profile_notify(ctx)}
    if selected == ["api"]:  # `--only api --profile`: that profile alone
        return {"api": profile_api(ctx)}
    out = {
        "one_run": profile_one_run(ctx),
        "dispatch": profile_dispatch(ctx),
        "processes": profile_processes(ctx),
    }
    if selected is None or "notify" in selected:
        out["notify"] = profile_notify(ctx)
    return out
