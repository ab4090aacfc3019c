"""What every benchmark shares: the sizes of a mode, the run's context (`Ctx`), the log line,
Django's setup on the bench database, and the template jobs benchmarks clone."""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .infra import Bench, CpuMonitor, TargetClient

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
FULL = dataclasses.replace(
    QUICK,
    name="full",
    lag_loads=[("100/s", 100, 3000), ("300/s", 300, 6000), ("burst", 1000, 1000)],
    now_jobs=300,
    sizes=[10_000, 100_000, 1_000_000],
    e2e_runs=5_000,
    api_seconds=30,
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

    def web(self) -> str:
        """The web process's base URL, started on first use."""
        if not self.web_url:
            self.web_url = self.bench.start_web()
        return self.web_url


def log(msg: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {msg}", flush=True)


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
