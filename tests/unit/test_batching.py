"""Group commit (jobs/batching.py): threads that wait share one flush, each gets its own."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from jobs.batching import Batcher


class Recorder:
    """A flush that doubles numbers, records its batches, and can hold the first one."""

    def __init__(self, hold_first: bool = False) -> None:
        self.batches: list[list] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        if not hold_first:
            self.release.set()

    def __call__(self, items):
        self.batches.append(list(items))
        self.entered.set()
        self.release.wait(5)
        for item in items:
            if item[1] == "bad":
                raise ValueError(f"bad item {item[0]}")
        return [item[0] * 2 for item in items]


def held_then_released(recorder: Recorder, batcher: Batcher, items: list) -> list:
    """Submit items[0]; while its flush is held, submit the rest; then let it go."""
    with ThreadPoolExecutor(len(items)) as pool:
        first = pool.submit(batcher.submit, items[0])
        assert recorder.entered.wait(5)
        rest = [pool.submit(batcher.submit, item) for item in items[1:]]
        while len(batcher._queue) < len(items) - 1:  # all the others are waiting
            threading.Event().wait(0.01)
        recorder.release.set()
        return [first, *rest]


def test_an_idle_submit_is_flushed_at_once_alone():
    recorder = Recorder()
    batcher = Batcher(recorder, key=lambda item: item[0])
    assert batcher.submit((21, "ok")) == 42
    assert recorder.batches == [[(21, "ok")]]


def test_items_submitted_during_a_flush_share_the_next_one():
    recorder = Recorder(hold_first=True)
    batcher = Batcher(recorder, key=lambda item: item[0])
    items = [(n, "ok") for n in range(10)]
    futures = held_then_released(recorder, batcher, items)
    assert [f.result(5) for f in futures] == [n * 2 for n in range(10)]
    assert recorder.batches[0] == [(0, "ok")]
    assert sorted(recorder.batches[1]) == items[1:]  # nine threads, one statement
    assert len(recorder.batches) == 2
    assert not batcher._busy and not batcher._queue


def test_items_with_the_same_key_never_share_a_batch():
    recorder = Recorder(hold_first=True)
    batcher = Batcher(recorder, key=lambda item: item[0] % 3)
    futures = held_then_released(recorder, batcher, [(n, "ok") for n in range(7)])
    assert sorted(f.result(5) for f in futures) == [n * 2 for n in range(7)]
    for batch in recorder.batches:
        keys = [n % 3 for n, _ in batch]
        assert len(keys) == len(set(keys)), batch
    assert sorted(n for batch in recorder.batches for n, _ in batch) == list(range(7))


def test_a_batch_bigger_than_max_batch_is_split():
    recorder = Recorder(hold_first=True)
    batcher = Batcher(recorder, key=lambda item: item[0], max_batch=4)
    futures = held_then_released(recorder, batcher, [(n, "ok") for n in range(10)])
    assert sorted(f.result(5) for f in futures) == [n * 2 for n in range(10)]
    assert [len(batch) for batch in recorder.batches] == [1, 4, 4, 1]


def test_a_failed_batch_fails_only_the_bad_items_thread():
    recorder = Recorder(hold_first=True)
    batcher = Batcher(recorder, key=lambda item: item[0])
    items = [(0, "ok"), (1, "ok"), (2, "bad"), (3, "ok")]
    futures = held_then_released(recorder, batcher, items)
    assert [f.result(5) for f in futures[:2]] == [0, 2]
    with pytest.raises(ValueError, match="bad item 2"):
        futures[2].result(5)
    assert futures[3].result(5) == 6
    # the shared batch failed; then each of its items was flushed alone by its own thread
    assert sorted(recorder.batches[1]) == items[1:]
    assert sorted(b[0] for b in recorder.batches[2:]) == items[1:]
    assert not batcher._busy and not batcher._queue


def test_a_single_items_error_is_raised_in_its_thread():
    batcher = Batcher(Recorder(), key=lambda item: item[0])
    with pytest.raises(ValueError, match="bad item 5"):
        batcher.submit((5, "bad"))
    assert batcher.submit((6, "ok")) == 12  # and the batcher goes on
