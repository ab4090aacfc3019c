"""API creations: POST /api/v1/jobs from many client threads against the web process as the
Procfile starts it (the loop itself is bench/api_load.py's)."""

from __future__ import annotations

from .api_load import post_jobs
from .context import Ctx, log


def bench_api(ctx: Ctx, clients: int = 16) -> None:
    from jobs.models import Job

    ctx.quiet()
    base = ctx.web()
    seconds = ctx.mode.api_seconds
    log(f"API: POST /jobs from {clients} client threads for {seconds:g} s (gunicorn 2x4)")
    out = post_jobs(base, ctx.token, seconds, target=f"{ctx.target_url}/api", clients=clients)
    out.update(clients=clients, created=Job.objects.count())
    log(
        f"  -> {out['per_s']:,.0f} creations/s, p50 {out['p50']:.0f} ms, p99 {out['p99']:.0f} ms, "
        f"{out['errors']} errors"
    )
    ctx.results["api"] = out
    ctx.quiet()
