"""Group commit: the threads of a worker process share one statement for their runs.

A worker process runs up to `--concurrency` runs at once; under load, a statement per run
makes the per-statement cost most of the database's work (and much of the worker's).
`Batcher.submit(item)` sends the item with any others that are waiting:

- The first thread to submit while no batch is in flight leads: it runs the batch at
  once, so an idle worker adds no delay.
- Threads that submit meanwhile wait. When the batch ends, the leader hands leadership to
  the first of them, which runs all that waited as the next batch (up to `max_batch`).
- Items with the same `key` never share a batch (two runs of one job must settle it one
  after the other); the later one goes in a following batch.
- If a batch of several items fails (a bad item, a deadlock, a connection lost), every
  thread runs its own item alone, on its own connection, as it would without batching:
  an error then reaches only the run it belongs to.

Every thread waits for its own item's result, so a task returns, and its message is
acknowledged, only once its claim or its outcome is committed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Entry(Generic[Item, Result]):
    __slots__ = ("item", "done", "lead", "alone", "result", "error")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.done = threading.Event()
        self.lead = False  # set when leadership is handed to this entry's thread
        self.alone = False  # set when its batch failed: the thread runs the item itself
        self.result: Result | None = None
        self.error: BaseException | None = None


class Batcher(Generic[Item, Result]):
    """Runs `flush(items) -> results` (one result per item, in order) for waiting threads."""

    def __init__(
        self,
        flush: Callable[[Sequence[Item]], Sequence[Result]],
        *,
        key: Callable[[Item], Hashable],
        max_batch: int = 64,
    ) -> None:
        self._flush = flush
        self._key = key
        self._max_batch = max_batch
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Entry[Item, Result]] = []
        self._busy = False
        self._pid = os.getpid()

    def submit(self, item: Item) -> Result:
        entry: _Entry[Item, Result] = _Entry(item)
        if self._pid != os.getpid():  # a forked child: the parent's batches are not its own
            self._reset()
        with self._lock:
            self._queue.append(entry)
            lead = not self._busy
            self._busy = True
        if not lead:
            entry.done.wait()
            lead = entry.lead
        if lead:
            self._lead()  # this entry is first in the queue: it is in the batch
        if entry.alone:
            (result,) = self._flush([item])
            return result
        if entry.error is not None:
            raise entry.error
        return entry.result  # type: ignore[return-value]

    def _lead(self) -> None:
        batch = self._take()
        try:
            self._run(batch)
        finally:
            with self._lock:
                successor = self._queue[0] if self._queue else None
                if successor is None:
                    self._busy = False
            for entry in batch[1:]:
                entry.done.set()
            if successor is not None:
                successor.lead = True
                successor.done.set()

    def _take(self) -> list[_Entry[Item, Result]]:
        with self._lock:
            batch, rest, keys = [], [], set()
            for entry in self._queue:
                key = self._key(entry.item)
                if len(batch) < self._max_batch and key not in keys:
                    keys.add(key)
                    batch.append(entry)
                else:
                    rest.append(entry)
            self._queue = rest
            return batch

    def _run(self, batch: list[_Entry[Item, Result]]) -> None:
        try:
            results = self._flush([entry.item for entry in batch])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:
                for entry in batch:
                    entry.alone = True
            return
        except BaseException as exc:  # the process is going down: nobody gets a result
            for entry in batch:
                entry.error = exc
            raise
        for entry, result in zip(batch, results, strict=True):
            entry.result = result
