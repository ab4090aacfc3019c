"""The delivery threads' pool (notifications/pool.py): an owner's backlog waits its turn
in order, comes out in batches, and never holds up another owner."""

from __future__ import annotations

import threading
import time

from notifications.pool import FairPool


def test_an_owners_backlog_comes_in_order_in_batches_and_others_go_meanwhile():
    calls: list[tuple[str, list]] = []
    first_held = threading.Event()
    release = threading.Event()

    def handler(items: list) -> None:
        owner = items[0][0]
        calls.append((owner, [n for _, n in items]))
        if items == [("alice", 1)]:
            first_held.set()
            release.wait(10)

    pool = FairPool(threads=2, per_owner=1, handler=handler, batch=3)
    pool.submit("alice", ("alice", 1))
    assert first_held.wait(10)
    for n in range(2, 6):
        pool.submit("alice", ("alice", n))
    pool.submit("bob", ("bob", 1))
    deadline = time.monotonic() + 10
    while ("bob", [1]) not in calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls == [("alice", [1]), ("bob", [1])]  # alice's backlog waits; bob goes
    release.set()
    while not pool.idle() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [c for c in calls if c[0] == "alice"] == [
        ("alice", [1]),
        ("alice", [2, 3, 4]),
        ("alice", [5]),
    ]
