"""Notifications survive a worker killed mid-send and a Redis flush.

A notification is a row written with the outcome it tells of (the outbox); a message only
wakes a worker. A worker killed while its receiver is still answering leaves the
notifications it held leased: the lease runs out and beat's sweeper publishes them again,
and the receiver gets the ones it had already read a second time, with the same
Idempotency-Key and body. A Redis flush loses the messages of pending notifications; the
sweeper publishes them again once NOTIFY_REPUBLISH_AFTER has passed. Nothing is lost.
"""

from __future__ import annotations

import secrets
import signal
import time

import pytest
import redis

from ..e2e.harness import Api, celery_worker_argv, wait_until
from ..receiver import Hook, Receiver
from .helpers import (
    FAULT_ENV,
    FIGURES,
    REAP_INTERVAL,
    WORKER_CONCURRENCY,
    Clients,
    JobCase,
    create_many,
    http_case,
    wait_settled,
)

pytestmark = [pytest.mark.faults]

LEASE = float(FAULT_ENV["NOTIFY_LEASE"])
REPUBLISH_AFTER = float(FAULT_ENV["NOTIFY_REPUBLISH_AFTER"])
THREADS = int(FAULT_ENV["NOTIFY_THREADS"])
STALL = 2.0  # seconds the receiver holds each request before its answer


@pytest.fixture
def receiver():
    with Receiver(secret=secrets.token_hex(16)) as hooks:
        yield hooks


def _channel(api: Api, receiver: Receiver) -> dict:
    body = {"name": "faults", "kind": "webhook", "url": receiver.url, "secret": receiver.secret}
    return api.ok(api.post("channels", body), 201)


def _failing_jobs(clients: Clients, target, group: str, channel_id: str, count: int):
    """`count` jobs failing at once, each telling the channel: one notification each."""
    cases = [
        http_case(
            target,
            group,
            "now",
            kind="status/500",
            expect=("failed",),
            notify=[{"channel": channel_id}],
        )
        for _ in range(count)
    ]
    create_many(clients, cases)
    return cases


def _outbox(stack, channel_id: str) -> dict[str, str]:
    """Notification id -> status, of the channel's notifications (the product's database)."""
    out = stack.shell(
        "from notifications.models import Notification\n"
        f"for i, s in Notification.objects.filter(channel_id='{channel_id}')"
        ".values_list('id', 'status'):\n"
        "    print('NOTIFICATION', i, s)\n",
        log="outbox",
    )
    rows = (line.split() for line in out.splitlines() if line.startswith("NOTIFICATION "))
    return {row[1]: row[2] for row in rows}


def _all_delivered(receiver: Receiver, count: int, *, timeout: float) -> float:
    """Wait until the receiver answered `count` distinct notifications; when it did."""
    receiver.wait(
        lambda hooks: len({h.key for h in hooks if h.delivered}) >= count,
        timeout=timeout,
        what=f"{count} notifications delivered",
    )
    return max(h.received_at for h in receiver.delivered())


def _check_delivered(stack, receiver: Receiver, channel_id: str, cases: list[JobCase]) -> int:
    """Every notification is `delivered` in the outbox and reached the receiver, one per job,
    signed; a repeat carries a key already seen, with the very same body. Returns the
    number of repeats."""
    outbox = wait_until(
        lambda: (
            (rows := _outbox(stack, channel_id))
            and all(s == "delivered" for s in rows.values())
            and rows
        ),
        timeout=20,
        interval=1,
        what="every notification delivered in the outbox",
    )
    assert len(outbox) == len(cases), outbox
    first: dict[str, Hook] = {}
    repeats = 0
    for hook in receiver.received():
        assert hook.signature_ok, hook
        if hook.key in first:
            repeats += 1
            assert hook.raw == first[hook.key].raw, f"{hook.key}: another body"
        else:
            first[hook.key] = hook
    assert set(first) == set(outbox), "the receiver got exactly the outbox's notifications"
    assert {h.body["job"]["id"] for h in first.values()} == {case.id for case in cases}
    assert all(h.event == "failure" for h in first.values())
    return repeats


def _figure(line: str) -> None:
    FIGURES.append(line)
    print("\n" + line)


def test_a_worker_killed_mid_send_loses_no_notification(
    stack, target, clients, api, receiver, fault_run
):
    fault = fault_run("notify-kill")
    receiver.stall(STALL)  # every delivery is in flight for STALL seconds
    channel = _channel(api, receiver)
    cases = _failing_jobs(clients, target, fault.group, channel["id"], 40)

    receiver.wait(
        lambda hooks: len(hooks) >= THREADS, timeout=30, what="the delivery threads all busy"
    )
    worker = stack.processes["worker"]
    worker.signal(signal.SIGKILL)
    killed_at = time.time()
    worker.proc.wait(5)
    at_kill = receiver.received()
    in_flight = {h.key for h in at_kill if h.answered is None}
    stack.restart_process("worker")  # a new worker
    restarted_at = time.time()
    wait_settled(api, fault.group, timeout=30)

    delivered_at = _all_delivered(receiver, len(cases), timeout=60)
    repeats = _check_delivered(stack, receiver, channel["id"], cases)
    # What the dead worker was sending came again (its lease ran out), after the kill.
    again = {h.key for h in receiver.received() if h.received_at > killed_at}
    assert in_flight and in_flight <= again, (in_flight, again)
    assert repeats >= len(in_flight)
    _figure(
        f"[faults] notifications, worker SIGKILL mid-send: {len(cases)} notifications, "
        f"{len(in_flight)} in flight at the kill ({len(at_kill)} requests read by then), "
        f"all delivered {delivered_at - killed_at:.1f}s after the kill "
        f"(new worker up after {restarted_at - killed_at:.1f}s; lease {LEASE:g}s, "
        f"receiver answers after {STALL:g}s), repeats {repeats} (same key, same body)"
    )
    # Bound: the lease runs out, the sweeper's next pass, then the backlog at THREADS at once.
    backlog = -(-len(cases) // THREADS) * (STALL + 0.5)
    assert delivered_at - killed_at < LEASE + REPUBLISH_AFTER + REAP_INTERVAL + backlog + 10


def test_a_redis_flush_loses_no_pending_notification(
    stack, target, clients, api, receiver, fault_run
):
    fault = fault_run("notify-flush")
    channel = _channel(api, receiver)
    # No worker takes notifications for a while: only one running the runs.
    stack.processes["worker"].stop()
    runs_worker = stack.start_extra(
        "worker-runs",
        celery_worker_argv("worker-runs@%h", concurrency=WORKER_CONCURRENCY, queues="http"),
    )
    stack.wait_process_ready(runs_worker)
    cases = _failing_jobs(clients, target, fault.group, channel["id"], 30)
    wait_settled(api, fault.group, timeout=30)

    broker = redis.Redis.from_url(stack.redis.url)
    try:
        queued = sum(broker.llen(key) for key in broker.scan_iter("notifications*"))
        assert queued > 0, "the notifications' messages wait in Redis"
        broker.flushall()
        flushed_at = time.time()
        assert not any(broker.scan_iter("notifications*"))
    finally:
        broker.close()
    assert not receiver.received()

    stack.restart_process("worker")
    ready_at = time.time()
    delivered_at = _all_delivered(receiver, len(cases), timeout=30)
    repeats = _check_delivered(stack, receiver, channel["id"], cases)
    _figure(
        f"[faults] notifications, Redis FLUSHALL: {len(cases)} notifications pending "
        f"({queued} messages flushed), all delivered {delivered_at - ready_at:.1f}s after a "
        f"worker took the queue again ({delivered_at - flushed_at:.1f}s after the flush; "
        f"NOTIFY_REPUBLISH_AFTER {REPUBLISH_AFTER:g}s), repeats {repeats}"
    )
    assert repeats == 0, "nothing had been sent before the flush"
    assert delivered_at - ready_at < REPUBLISH_AFTER + REAP_INTERVAL + 5
