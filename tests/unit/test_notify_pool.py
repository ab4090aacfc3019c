"""The delivery threads' queue (notifications/pool.py): what waits in it, and how often."""

from __future__ import annotations

import threading
import time

from notifications.pool import FairPool


def _drain(pool: FairPool, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not pool.idle() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool.idle()


def test_a_notification_published_again_while_it_waits_waits_once():
    # The sweeper publishes again every pending notification not sent for a while, also
    # those waiting here behind their owner's hanging receiver: each must wait once, or
    # the queue grows by the whole backlog at every sweep.
    pool = FairPool(threads=1, per_owner=1)
    hang = threading.Event()
    ran: list[str] = []
    pool.submit("mallory", lambda: hang.wait(10), key="sending")
    for _ in range(50):  # fifty sweeps
        for key in ("n1", "n2"):
            pool.submit("mallory", lambda key=key: ran.append(key), key=key)
    hang.set()
    _drain(pool)
    assert sorted(ran) == ["n1", "n2"]


def test_a_notification_published_again_once_started_is_queued_again():
    # One already being sent may fail and need its next attempt: a new message is kept.
    pool = FairPool(threads=1, per_owner=1)
    started, hang = threading.Event(), threading.Event()
    ran: list[str] = []

    def first() -> None:
        started.set()
        hang.wait(10)
        ran.append("first")

    pool.submit("alice", first, key="n1")
    assert started.wait(2)
    pool.submit("alice", lambda: ran.append("again"), key="n1")
    hang.set()
    _drain(pool)
    assert ran == ["first", "again"]
