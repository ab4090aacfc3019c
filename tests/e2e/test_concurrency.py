"""End-to-end: `concurrency` of a recurring job whose runs outlast its interval.

Both jobs fire every second, four times, and each request takes 2.5 s to answer.
"""

from __future__ import annotations

import pytest

from .harness import parse_ts

pytestmark = [pytest.mark.e2e]

SLOW = 2.5  # seconds each request takes


def _overlaps(runs: list[dict], tolerance: float = 0.2) -> list[tuple[str, str]]:
    """Pairs of runs (by due time) that were running at the same moment."""
    spans = sorted(
        (parse_ts(r["started_at"]), parse_ts(r["finished_at"]), r["due_at"])
        for r in runs
        if r["started_at"] and r["finished_at"]
    )
    return [
        (a[2], b[2]) for i, a in enumerate(spans) for b in spans[i + 1 :] if b[0] < a[1] - tolerance
    ]


@pytest.fixture(scope="module")
def slow_jobs(alice, target):
    """Start a `forbid` and a `replace` job together; wait until both are done."""
    jobs = {}
    for mode in ("forbid", "replace"):
        path = target.path(f"slow/{SLOW}")
        job = alice.create_job(
            {
                "task": {"method": "GET", "uri": target.url(path), "timeout": "10s"},
                "schedule": {"every": "1s"},
                "max_runs": 4,
                "concurrency": mode,
            }
        )
        jobs[mode] = (job["id"], path)
    for job_id, _ in jobs.values():
        alice.wait_job(job_id, ["completed", "failed"], timeout=15)
    return {
        mode: (sorted(alice.runs(job_id), key=lambda r: r["due_at"]), target.received(path))
        for mode, (job_id, path) in jobs.items()
    }


def test_forbid_never_overlaps(slow_jobs):
    runs, requests = slow_jobs["forbid"]
    assert len(runs) == 4, runs
    assert not _overlaps(runs), f"runs overlapped: {_overlaps(runs)}"
    statuses = [r["status"] for r in runs]
    assert statuses[0] == "succeeded"
    assert "skipped" in statuses
    for run in runs:  # a skip is decided when the fire is due, not ahead of it
        if run["status"] == "skipped":
            assert parse_ts(run["finished_at"]) >= parse_ts(run["due_at"]) - 0.05, run
    # The target never had two requests of this job in flight.
    starts = sorted(r.received_at for r in requests)
    assert all(b - a >= SLOW - 0.2 for a, b in zip(starts, starts[1:], strict=False)), starts
    assert len(requests) == statuses.count("succeeded")


def test_replace_stops_the_previous_run(slow_jobs):
    runs, requests = slow_jobs["replace"]
    assert len(runs) == 4, runs
    assert len(requests) == 4
    assert not _overlaps(runs), f"runs overlapped: {_overlaps(runs)}"
    assert [r["status"] for r in runs[:-1]] != ["succeeded"] * 3, "no run was replaced"
    assert runs[-1]["status"] == "succeeded"
