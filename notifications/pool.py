"""The worker process's delivery threads, shared fairly between channel owners.

Deliveries never take a run's thread: they have a pool of their own (NOTIFY_THREADS per
worker process), and one owner holds at most NOTIFY_THREADS_PER_OWNER of them at once, so
an owner whose receiver hangs until the time-out slows their own notifications only. The
others of that owner wait here, in order, unclaimed (the database still says pending).
A thread that frees up takes up to `batch` of its owner's waiting ones at once: they are
claimed together (notifications/delivery.py), and an owner with a backlog pays a claim
per batch instead of one per notification.
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


class FairPool:
    """Calls `handler` with lists of at most `batch` items of one owner, on `threads`
    threads, at most `per_owner` of them for one owner at once."""

    def __init__(
        self, threads: int, per_owner: int, handler: Callable[[list], None], batch: int = 1
    ) -> None:
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="notify")
        self._per_owner = max(1, per_owner)
        self._handler = handler
        self._batch = max(1, batch)
        self._lock = threading.Lock()
        self._running: dict[object, int] = {}
        self._waiting: dict[object, deque] = {}

    def submit(self, owner, item) -> None:
        with self._lock:
            if self._running.get(owner, 0) >= self._per_owner:
                self._waiting.setdefault(owner, deque()).append(item)
                return
            self._running[owner] = self._running.get(owner, 0) + 1
        self._executor.submit(self._run, owner, [item])

    def _run(self, owner, items: list) -> None:
        try:
            self._handler(items)
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
            items = [waiting.popleft() for _ in range(min(self._batch, len(waiting)))]
        # The owner's next go behind what other owners queued meanwhile.
        self._executor.submit(self._run, owner, items)

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
