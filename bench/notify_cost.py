"""The worker's CPU per notification, by step: `python -m bench.notify_cost`.

In this process, on a fresh bench database, one thread, its own CPU time
(`time.thread_time`) per call, the best of 3 rounds of 300:

- a fire's end when its job has no rule (the outbox's query of the rules: every fire
  pays it) and when it has one (the query, the notification's INSERT, the hand-off at
  commit), each in its own transaction as a run's finish has it;
- one delivery (`deliver_safely`: claim, signed POST to the loopback target, record),
  alone and as one of a batch (`batch_size()`, what a delivery thread takes of an
  owner's waiting notifications).

Each on PostgreSQL's prepared statements (notifications/pg.py) and on the ORM path that
other databases take (and PostgreSQL took before), side by side. A figure, not a test.
"""

from __future__ import annotations

import sys
import time
import uuid
from datetime import datetime

from .context import QUICK, Ctx, make_user, setup_django
from .infra import ROOT, Bench
from .stats import cpu_seconds

ROUNDS, PER_ROUND = 3, 300


def best_us(calls: list) -> tuple[float, float]:
    """Best per-call CPU time over ROUNDS rounds, each calling a ROUNDS-th of `calls`:
    this thread's, and its PostgreSQL backend's in that round."""
    from django.db import connection

    best = []
    per_round = len(calls) // ROUNDS
    for r in range(ROUNDS):
        chunk = calls[r * per_round : (r + 1) * per_round]
        connection.ensure_connection()
        backend = connection.connection.info.backend_pid
        pg, t = cpu_seconds(backend), time.thread_time()
        for call in chunk:
            call()
        ours = (time.thread_time() - t) / len(chunk)
        best.append((ours, (cpu_seconds(backend) - pg) / len(chunk)))
    ours, pg = min(best)
    return ours * 1e6, pg * 1e6


def main() -> int:
    workdir = ROOT / "var" / "bench" / ("notify-cost-" + datetime.now().strftime("%Y%m%d-%H%M%S"))
    with Bench(workdir) as bench:
        setup_django(bench)
        ctx = Ctx(bench=bench, mode=QUICK)
        make_user(ctx)
        ctx.target_url = bench.start_target()
        try:
            rows = [
                (path, *measure(ctx, portable=path != "PostgreSQL statements"))
                for path in (
                    "PostgreSQL statements",
                    "ORM (portable path)",
                )
            ]
        finally:
            from django.db import connections

            connections.close_all()
    print(
        f"CPU per call, best of {ROUNDS} x {PER_ROUND}, microseconds: the calling thread's / "
        "its PostgreSQL backend's (/proc, 10 ms ticks: a round's total divided by its calls)"
    )
    print(
        "| path | fire's end, no rule | fire's end, one rule | one delivery "
        "| one delivery, in a batch of an owner's waiting ones |"
    )
    print("|---|---:|---:|---:|---:|")
    for path, *figures in rows:
        print(f"| {path} | " + " | ".join(f"{a:,.0f} / {b:,.0f}" for a, b in figures) + " |")
    return 0


def measure(ctx: Ctx, *, portable: bool) -> tuple[tuple, ...]:
    from django.db import transaction
    from django.utils import timezone

    from jobs.models import Job, Run
    from jobs.signals import FireEnd
    from notifications import delivery, outbox, pg, publish
    from notifications.models import Channel, Notification, Rule

    from . import load

    n = ROUNDS * PER_ROUND
    load.reset()
    Channel.objects.all().delete()
    enabled = pg.enabled
    if portable:
        pg.enabled = lambda: False
    publish.deliver_here(lambda items, leased: None)  # the hand-off, without the threads
    try:
        template = load.template(
            ctx.user,
            {"task": {"method": "GET", "uri": f"{ctx.target_url}/x"}, "schedule": {"every": "1h"}},
        )
        load.clone(template, 2 * n, due="now() + interval '1 day'")
        jobs = list(Job.objects.exclude(id=template.id).values_list("id", flat=True))
        channel = Channel.objects.create(
            owner=ctx.user, name="b", kind="webhook", url=f"{ctx.target_url}/hook", secret="s"
        )
        Rule.objects.bulk_create(
            [Rule(owner=ctx.user, channel=channel, job_id=j, on=["failure"]) for j in jobs[n:]]
        )
        now = timezone.now()
        run = Run.objects.create(
            job=template,
            job_revision=template.revision,
            due_at=now,
            status="failed",
            finished_at=now,
            error="Status 500 is outside the expected range 200-299.",
            idempotency_key=uuid.uuid4(),
        )

        def end(job_id):
            fire = FireEnd(job_id, ctx.user.id, "", "", run.id, "failed", ("failure",), 1)

            def call() -> None:
                with transaction.atomic():
                    outbox.on_fires_ended(None, [fire])

            return call

        no_rule = best_us([end(j) for j in jobs[:n]])
        one_rule = best_us([end(j) for j in jobs[n:]])
        ids = list(Notification.objects.values_list("id", flat=True))
        assert len(ids) == n, len(ids)
        for nid in ids[:20]:  # warm up: connections, prepared statements
            delivery.deliver_safely([str(nid)])

        def again() -> None:
            Notification.objects.update(
                status="pending", delivered_at=None, attempts=0, body=None, leased_until=None
            )

        again()
        one = best_us([lambda nid=str(nid): delivery.deliver_safely([nid]) for nid in ids])
        delivered = Notification.objects.filter(status="delivered").count()
        assert delivered == n, delivered
        again()
        size = delivery.batch_size()
        batches = [[str(nid) for nid in ids[i : i + size]] for i in range(0, n, size)]
        per_batch = best_us([lambda b=b: delivery.deliver_safely(b) for b in batches])
        assert Notification.objects.filter(status="delivered").count() == n
        return no_rule, one_rule, one, (per_batch[0] / size, per_batch[1] / size)
    finally:
        pg.enabled = enabled
        publish.deliver_here(None)


if __name__ == "__main__":
    sys.exit(main())
