"""End-to-end with notifications: the runs/s of jobs with a notify rule each, beside the
same jobs without rules, one right after the other.

The jobs: the mode's end-to-end number of runs, as `FIRES` fires each of HTTP jobs
`{"every": "1s"}` due at the same instant every second, no retries, each calling its own
`/flip/<i>` path of the target, which answers 500 and 200 in turn: every job's fires fail
and recover alternately, and every fire ends on the ORM path of the worker (a failure,
or the success of a failing job). Without rules (A) that is all; with rules (B) each job
has a rule on `failure` and `recovery` to one signed webhook channel on the target
(`/hook`), so every fire writes one notification in its finish transaction and the
worker's delivery threads post it.

Runs/s is measured as the end-to-end benchmark does (finished runs / (last finished_at -
first started_at)); B's notifications are then waited for, and counted: delivered,
pending, failed, the successful attempts (Delivery rows) and the posts the target
received, so a lost or doubled notification shows.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from .context import FINISHED, Ctx, log
from .infra import WORKER_QUEUES, CpuMonitor, wal_bytes
from .stats import cpu_seconds, summary_ms

FIRES = 4  # fires per job: failure, recovery, failure, recovery
HOOK = "/hook"
RULE_EVENTS = ["failure", "recovery"]


def bench_notify(ctx: Ctx) -> None:
    """`e2e_pairs` pairs of A (no rules) and B (a rule per job), the order alternating
    from pair to pair; the table shows the pair with the median ratio B / A. Unless
    variants are skipped, one more pair where the notifications have a worker process of
    their own."""
    pairs = []
    for i in range(ctx.mode.e2e_pairs):
        order = (False, True) if i % 2 == 0 else (True, False)
        got = {rules: measure(ctx, rules=rules) for rules in order}
        pairs.append((got[False], got[True]))
        ratio = got[True]["per_s"] / got[False]["per_s"]
        log(f"  -> pair {i + 1}: runs/s with rules / without {ratio:.2f}")
    ratios = [b["per_s"] / a["per_s"] for a, b in pairs]
    without, with_rules = pairs[ratios.index(statistics.median_low(ratios))]
    ratio = with_rules["per_s"] / without["per_s"]
    log(f"  -> with rules / without: {ratio:.2f} (pairs {', '.join(f'{r:.2f}' for r in ratios)})")
    ctx.results["notify"] = {
        "runs": ctx.mode.e2e_runs,
        "jobs": ctx.mode.e2e_runs // FIRES,
        "fires_per_job": FIRES,
        "without": without,
        "with": with_rules,
        "ratio": ratio,
        "pairs": [{"without_per_s": a["per_s"], "with_per_s": b["per_s"]} for a, b in pairs],
    }
    if not ctx.skip_variants:
        # The deployment where the notifications queue has a worker process of its own:
        # beside a run without rules measured right before it.
        alone = measure(ctx, rules=False)
        split = measure(ctx, rules=True, notifier=True)
        split["without_per_s"] = alone["per_s"]
        split["ratio"] = split["per_s"] / alone["per_s"]
        log(f"  -> a worker process of their own: runs/s with rules / without {split['ratio']:.2f}")
        ctx.results["notify"]["notifier"] = split
    ctx.quiet()
    _drop_channels()


def measure(
    ctx: Ctx,
    *,
    rules: bool,
    notifier: bool = False,
    started: Callable[[int], object] | None = None,
) -> dict:
    """One variant: load the jobs (and their rules), start worker and beat, make the jobs
    due, wait for the runs (and the notifications); the figures. With `notifier`, the
    worker does not consume the notifications queue and a second worker process consumes
    it alone. `started` is called with the worker's pid once it is up (the profile's
    py-spy)."""
    from django.db.models import Max, Min

    from jobs.models import Job, Run

    b = ctx.bench
    n = ctx.mode.e2e_runs
    jobs = n // FIRES
    label = "a notify rule on every job" if rules else "no rules"
    if notifier:
        label += ", delivered by a worker process of their own"
    ctx.quiet()
    _drop_channels()
    log(f"notify: {jobs:,} HTTP jobs x {FIRES} fires failing and recovering in turn, {label}")
    template = _load_jobs(ctx, jobs)
    if rules:
        _add_rules(ctx, template)
    if notifier:
        runs_only = ",".join(q for q in WORKER_QUEUES.split(",") if q != "notifications")
        procs = [
            b.start_worker(queues=runs_only),
            b.start_worker("notifier", queues="notifications"),
        ]
    else:
        procs = [b.start_worker()]
    procs.append(b.start_beat())
    pids = [p.proc.pid for p in procs]  # the workers, then beat
    if started is not None:
        started(pids[0])
    cpu0 = [cpu_seconds(pid) for pid in pids]
    snap0 = ctx.monitor.snapshot() if ctx.monitor else None
    due = datetime.fromtimestamp(time.time() + 2, UTC)
    Job.objects.exclude(id=template.id).update(next_run_at=due, anchor_at=due)
    wal0 = wal_bytes()
    deadline = time.monotonic() + 600
    while Run.objects.filter(status__in=FINISHED).count() < n and time.monotonic() < deadline:
        time.sleep(0.25)
    cpu1 = [cpu_seconds(pid) for pid in pids]
    snap1 = ctx.monitor.snapshot() if ctx.monitor else None
    wal1 = wal_bytes()
    agg = Run.objects.aggregate(first=Min("started_at"), last=Max("finished_at"))
    finished = Run.objects.filter(status__in=FINISHED).count()
    out = {
        "label": label,
        "rules": rules,
        "finished": finished,
        "succeeded": Run.objects.filter(status="succeeded").count(),
        "failed": Run.objects.filter(status="failed").count(),
        "per_s": finished / (agg["last"] - agg["first"]).total_seconds(),
        **_costs(cpu0, cpu1, snap0, snap1, wal1 - wal0, finished),
    }
    log(
        f"  -> {finished:,} runs ({out['succeeded']:,} succeeded, {out['failed']:,} failed) at "
        f"{out['per_s']:,.0f}/s; worker CPU {out['worker_cpu_ms_per_run']:.1f} ms/run, "
        f"PostgreSQL {out.get('pg_cpu_ms_per_run', math.nan):.1f} ms/run, "
        f"{out['wal_bytes_per_run']:,.0f} bytes of WAL/run"
    )
    if rules:
        _wait_notifications(timeout=300)
        cpu2 = [cpu_seconds(pid) for pid in pids]
        snap2 = ctx.monitor.snapshot() if ctx.monitor else None
        drained = _costs(cpu0, cpu2, snap0, snap2, wal_bytes() - wal0, finished)
        out["until_delivered"] = drained
        out["notifications"] = nf = _notification_figures(ctx, agg["last"])
        # The same runs, timed until their last notification was delivered: what a load
        # sustained for long goes at, when the deliveries cannot wait for a quiet moment.
        if nf["last_delivered_at"] is not None:
            out["per_s_until_delivered"] = finished / (
                (nf["last_delivered_at"] - agg["first"]).total_seconds()
            )
        log(
            f"  -> {nf['notifications']:,} notifications: {nf['delivered']:,} delivered "
            f"({nf['successful_attempts']:,} successful attempts, {nf['hooks_received']:,} posts "
            f"received), {nf['pending']:,} pending, {nf['failed']:,} failed; "
            f"{nf['delivered_per_s']:,.0f} delivered/s; run finished -> delivered p50 "
            f"{nf['delay']['p50']:,.0f} ms, p99 {nf['delay']['p99']:,.0f} ms; worker CPU "
            f"{drained['worker_cpu_ms_per_run']:.1f} ms/run until all delivered"
        )
    return out


def _load_jobs(ctx: Ctx, jobs: int):
    """A template made by the product's service, never due, and `jobs` clones of it, each
    calling its own /flip/ path; due far ahead until the worker and beat are up."""
    from jobs.models import Job

    from . import load

    template = load.template(
        ctx.user,
        {
            "task": {"method": "GET", "uri": f"{ctx.target_url}/flip/template"},
            "schedule": {"every": "1s"},
            "max_runs": FIRES,
            "retry": {"max_attempts": 1},
        },
    )
    Job.objects.filter(id=template.id).update(next_run_at=None)
    load.clone(
        template,
        jobs,
        due="to_timestamp(%(far)s)",
        uri="%(base)s || '/flip/' || i",
        params={"far": time.time() + 86_400, "base": ctx.target_url},
    )
    return template


def _add_rules(ctx: Ctx, template) -> None:
    """One webhook channel on the target, signed, and a rule per job to it."""
    from jobs.models import Job
    from notifications.models import Channel, ChannelKind, Rule

    channel = Channel.objects.create(
        owner=ctx.user,
        name="bench",
        kind=ChannelKind.WEBHOOK,
        url=f"{ctx.target_url}{HOOK}",
        secret="bench-webhook-secret",
    )
    job_ids = Job.objects.exclude(id=template.id).values_list("id", flat=True)
    Rule.objects.bulk_create(
        [
            Rule(owner=ctx.user, channel=channel, job_id=job_id, on=RULE_EVENTS)
            for job_id in job_ids
        ],
        batch_size=1000,
    )


def _drop_channels() -> None:
    from notifications.models import Channel

    Channel.objects.all().delete()


def _costs(cpu0: list, cpu1: list, snap0, snap1, wal: int, runs: int) -> dict:
    """Worker, beat and PostgreSQL CPU and WAL per run between two readings; the CPU
    lists are [worker..., beat]."""
    workers = sum(b - a for a, b in zip(cpu0[:-1], cpu1[:-1], strict=True))
    out = {
        "worker_cpu_ms_per_run": workers / max(runs, 1) * 1000,
        "beat_cpu_ms_per_run": (cpu1[-1] - cpu0[-1]) / max(runs, 1) * 1000,
        "wal_bytes_per_run": wal / max(runs, 1),
    }
    if snap0 and snap1:
        out["pg_cpu_ms_per_run"] = (snap1["pg"] - snap0["pg"]) / max(runs, 1) * 1000
        out["others_cores"] = CpuMonitor.between(snap0, snap1)["others"]
    return out


def _wait_notifications(timeout: float) -> None:
    from notifications.models import Notification, NotificationStatus

    deadline = time.monotonic() + timeout
    pending = Notification.objects.filter(status=NotificationStatus.PENDING)
    while pending.exists() and time.monotonic() < deadline:
        time.sleep(0.1)


def _notification_figures(ctx: Ctx, last_run_finished) -> dict:
    """How many notifications, how they ended, how fast and how late they were delivered,
    and whether each was posted once."""
    from django.db.models import Count, Max, Min, Q

    from notifications.models import Delivery, Notification, NotificationStatus

    by_status = dict(
        Notification.objects.values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    by_event = dict(
        Notification.objects.values_list("event").annotate(n=Count("id")).values_list("event", "n")
    )
    attempts = Delivery.objects.aggregate(all=Count("id"), ok=Count("id", filter=Q(delivered=True)))
    doubled = (
        Delivery.objects.filter(delivered=True)
        .values("notification_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    delivered = Notification.objects.filter(status=NotificationStatus.DELIVERED)
    times = list(delivered.values_list("created_at", "delivered_at", "run__finished_at"))
    span = delivered.aggregate(first=Min("created_at"), last=Max("delivered_at"))
    hooks = sum(1 for _, path in ctx.target.dump() if path == HOOK)
    count = sum(by_status.values())
    return {
        "notifications": count,
        "by_event": by_event,
        "delivered": by_status.get(NotificationStatus.DELIVERED, 0),
        "pending": by_status.get(NotificationStatus.PENDING, 0),
        "failed": by_status.get(NotificationStatus.FAILED, 0),
        "attempts": attempts["all"],
        "successful_attempts": attempts["ok"],
        "delivered_twice": doubled,
        "hooks_received": hooks,
        "delivered_per_s": len(times) / (span["last"] - span["first"]).total_seconds()
        if times
        else math.nan,
        # From the run's finish (its finished_at, set in the transaction that writes the
        # notification) to the delivery recorded after the receiver's 200.
        "delay": summary_ms([(d - f).total_seconds() for _, d, f in times if f is not None]),
        "delay_from_created": summary_ms([(d - c).total_seconds() for c, d, _ in times]),
        "last_delivered_at": span["last"],
        "last_delivered_after_last_run_s": (span["last"] - last_run_finished).total_seconds()
        if times
        else math.nan,
        "attempt_ms": summary_ms(
            [ms / 1000 for ms in Delivery.objects.values_list("duration_ms", flat=True)]
        ),
    }
