"""The worker process's delivery threads, shared fairly between channel owners.

Deliveries never take a run's thread: they have a pool of their own (NOTIFY_THREADS per
worker process), and one owner holds at most NOTIFY_THREADS_PER_OWNER of them at once, so
an owner whose receiver hangs until the time-out slows their own notifications only. The
others of that owner wait here, in order, unclaimed (the database still says pending).
A thread that frees up takes up to `batch` of its owner's waiting ones at once: they are
claimed together (notifications/delivery.py), and an owner with a backlog pays a claim
per batch instead of one per notification.

A notification waits here once: the sweeper publishes again every pending notification
not published for NOTIFY_REPUBLISH_AFTER, those waiting behind a hanging receiver too
(it cannot tell them from lost ones), and queuing each copy would grow the queue by the
whole backlog at every sweep, then make the owner's threads claim every copy in vain once
the receiver is back. A copy that comes once its notification has started is kept: that
attempt may fail and need the next.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

from .delivery import batch_size, deliver_safely

log = logging.getLogger(__name__)


def _call_each(items: list[Callable[[], None]]) -> None:
    for work in items:
        work()


class FairPool:
    """Calls `handler` with lists of at most `batch` items of one owner, on `threads`
    threads, at most `per_owner` of them for one owner at once. By default the items are
    callables, called one after the other."""

    def __init__(
        self,
        threads: int,
        per_owner: int,
        handler: Callable[[list], None] = _call_each,
        batch: int = 1,
    ) -> None:
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="notify")
        self._per_owner = max(1, per_owner)
        self._handler = handler
        self._batch = max(1, batch)
        self._lock = threading.Lock()
        self._running: dict[object, int] = {}
        self._waiting: dict[object, deque[tuple[object, object]]] = {}
        self._not_started: set = set()  # the keys of items submitted and not started yet

    def submit(self, owner, item, key=None) -> None:
        """Hand `item` to the owner's share of the threads; dropped if an item of the same
        `key` (a notification id) is already waiting to start."""
        with self._lock:
            if key is not None:
                if key in self._not_started:
                    return
                self._not_started.add(key)
            if self._running.get(owner, 0) >= self._per_owner:
                self._waiting.setdefault(owner, deque()).append((key, item))
                return
            self._running[owner] = self._running.get(owner, 0) + 1
        self._executor.submit(self._run, owner, [(key, item)])

    def _run(self, owner, batch: list[tuple[object, object]]) -> None:
        with self._lock:
            for key, _ in batch:
                self._not_started.discard(key)
        try:
            self._handler([item for _, item in batch])
        except Exception:
            log.exception("delivery thread error")
        with self._lock:
            waiting = self._waiting.get(owner)
            if not waiting:
                self._waiting.pop(owner, None)
                self._running[owner] -= 1
                if not self._running[owner]:
                    del self._running[owner]
                return
            batch = [waiting.popleft() for _ in range(min(self._batch, len(waiting)))]
        # The owner's next go behind what other owners queued meanwhile.
        self._executor.submit(self._run, owner, batch)

    def idle(self) -> bool:
        with self._lock:
            return not self._running


_lock = threading.Lock()
_pool: FairPool | None = None
_pool_pid = 0


def delivery_pool() -> FairPool:
    """This process's pool, made at its first notification (and again in a forked child)."""
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():
            sched = settings.SCHED
            _pool = FairPool(
                sched["NOTIFY_THREADS"],
                sched["NOTIFY_THREADS_PER_OWNER"],
                deliver_safely,
                batch_size(),
            )
            _pool_pid = os.getpid()
        return _pool
