"""End-to-end: two beat processes (two dispatchers) never fire a job twice."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from .harness import parse_ts, record_lag, wait_until

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def second_beat(e2e_stack):
    process = e2e_stack.start_extra("beat2", e2e_stack.beat_argv("beat2"))
    try:
        wait_until(
            lambda: "beat: Starting" in process.log_text() or not process.alive(),
            timeout=20,
            what="the second beat to start",
        )
        assert process.alive(), process.log_text()[-3000:]
        yield process
    finally:
        e2e_stack.stop_extra("beat2")


def test_two_beats_fire_each_job_once(alice, target, second_beat):
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    once = {}
    for _ in range(8):
        path = target.path("ok")
        job = alice.create_job({"task": {"uri": target.url(path)}, "schedule": due.isoformat()})
        once[job["id"]] = path
    every_path = target.path("ok")
    every = alice.create_job(
        {
            "task": {"uri": target.url(every_path)},
            "schedule": {"every": "1s"},
            "max_runs": 3,
        }
    )

    for path in once.values():
        (request,) = target.wait_for(path, 1, timeout=10)
        record_lag("two beats, 8 jobs due at once", request.received_at - due.timestamp())
    target.wait_for(every_path, 3, timeout=10)
    alice.wait_job(every["id"], "completed")
    time.sleep(1.0)  # room for a duplicate to show up

    for job_id, path in once.items():
        job = alice.wait_job(job_id, "succeeded")
        runs = alice.runs(job_id)
        assert len(runs) == 1, runs
        assert parse_ts(runs[0]["due_at"]) == due.timestamp()
        assert job["fire_count"] == 1
        target.expect_exactly(path, 1)
    runs = alice.runs(every["id"])
    assert len(runs) == 3 and {r["status"] for r in runs} == {"succeeded"}, runs
    assert len({r["due_at"] for r in runs}) == 3
    target.expect_exactly(every_path, 3)
    assert second_beat.alive()
