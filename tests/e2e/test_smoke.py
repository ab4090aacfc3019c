"""End-to-end smoke tests: they run on PostgreSQL and again on the SQLite default."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from .harness import parse_ts, record_lag

pytestmark = [pytest.mark.e2e, pytest.mark.smoke]


def test_minimal_body_now(alice, target):
    path = target.path("ok")
    body = {
        "task": {
            "method": "POST",
            "uri": target.url(path),
            "body": {},
            "expected_range": "200-300",
        },
        "schedule": "now",
    }
    response = alice.post("jobs", body)
    assert response.status_code == 201, response.text
    job = response.json()
    job_id = job["id"]
    assert job["link"] == f"{alice.base_url}/api/v1/jobs/{job_id}"  # absolute: as asked
    assert response.headers["Location"] == job["link"]
    assert job["type"] == "http"
    assert job["task"]["uri"] == target.url(path)

    (request,) = target.wait_for(path, 1, timeout=10)
    job = alice.wait_job(job_id, "succeeded")
    runs = alice.runs(job_id)
    assert len(runs) == 1, runs
    run = runs[0]
    assert run["status"] == "succeeded"
    assert run["attempt"] == 1
    assert run["trigger"] == "schedule"

    assert request.method == "POST"
    assert request.headers["Idempotency-Key"] == run["id"]
    assert request.headers["X-Sched-Job-Id"] == job_id
    assert request.headers["X-Sched-Run-Id"] == run["id"]
    assert request.json() == {}

    detail = alice.run(run["id"])
    assert detail["id"] == run["id"]
    assert detail["job"] == job_id
    assert detail["status"] == "succeeded"
    assert detail["idempotency_key"] == run["id"]
    assert detail["result"]["status_code"] == 200
    assert detail["started_at"] and detail["finished_at"]
    assert job["last_run"]["id"] == run["id"]
    assert job["next_run_at"] is None
    target.expect_exactly(path, 1)


def test_iso_datetime_fires_on_time(alice, target):
    path = target.path("ok")
    # A whole second ~3 s ahead, written with a -08:00 offset.
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    due_text = due.astimezone(timezone(timedelta(hours=-8))).isoformat()
    job = alice.create_job(
        {
            "task": {"method": "POST", "uri": target.url(path), "body": {"n": 1}},
            "schedule": due_text,
        }
    )
    assert parse_ts(job["next_run_at"]) == due.timestamp()
    assert job["status"] == "scheduled"
    assert not target.received(path)

    (request,) = target.wait_for(path, 1, timeout=10)
    lag = request.received_at - due.timestamp()
    record_lag("once at a date-time", lag)
    assert lag >= 0, f"fired {-lag:.3f}s before its due time"
    assert lag < 1.0, f"fired {lag:.3f}s after its due time"

    job = alice.wait_job(job["id"], "succeeded")
    (run,) = alice.runs(job["id"])
    assert parse_ts(run["due_at"]) == due.timestamp()
    assert request.headers["Idempotency-Key"] == run["id"]
    assert request.json() == {"n": 1}
    target.expect_exactly(path, 1)


def test_interval_with_max_runs(alice, target):
    path = target.path("ok")
    created = time.time()
    job = alice.create_job(
        {
            "task": {"method": "GET", "uri": target.url(path)},
            "schedule": {"every": "1s"},
            "max_runs": 3,
        }
    )
    requests = target.wait_for(path, 3, timeout=10)
    job = alice.wait_job(job["id"], "completed")
    assert job["fire_count"] == 3
    assert job["next_run_at"] is None

    runs = sorted(alice.runs(job["id"]), key=lambda r: r["due_at"])
    assert [r["status"] for r in runs] == ["succeeded"] * 3
    assert [r["trigger"] for r in runs] == ["schedule"] * 3
    dues = [parse_ts(r["due_at"]) for r in runs]
    assert dues[0] == pytest.approx(created + 1, abs=0.5)
    assert [round(b - a, 3) for a, b in zip(dues, dues[1:], strict=False)] == [1.0, 1.0]

    by_run = {r["id"]: r for r in runs}
    times = [r.received_at for r in requests]
    for request in requests:
        run = by_run[request.headers["X-Sched-Run-Id"]]
        assert request.headers["Idempotency-Key"] == run["id"]
        lag = request.received_at - parse_ts(run["due_at"])
        record_lag("interval", lag)
        assert 0 <= lag < 1.0
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(0.7 < gap < 1.3 for gap in gaps), gaps
    assert len({r.headers["X-Sched-Run-Id"] for r in requests}) == 3
    # No fourth fire.
    time.sleep(1.2)
    target.expect_exactly(path, 3)


def test_jobs_due_together_go_in_bundles_and_each_fires_once_on_time(alice, target, e2e_stack):
    """Twenty jobs due at the same second reach the worker in bundles (jobs.execute_runs):
    each still fires once, never before its due time, and is recorded on its own."""
    worker = e2e_stack.processes["worker"]
    bundles_before = worker.own_log_text().count("bundle of ")
    # Room to create the twenty before they are due, on a machine busy with other tests.
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=8)
    paths = [target.path("ok") for _ in range(20)]
    jobs = [
        alice.create_job({"task": {"uri": target.url(path)}, "schedule": due.isoformat()})
        for path in paths
    ]
    left = (due - datetime.now(UTC)).total_seconds()
    assert left > 1, f"creating 20 jobs took until {left:.1f}s before their due time"
    for path, job in zip(paths, jobs, strict=True):
        (request,) = target.wait_for(path, 1, timeout=15)
        lag = request.received_at - due.timestamp()
        record_lag("due together", lag)
        # Twenty at once, in bundles through one worker (and SQLite's one writer): within
        # 1.5 s of their due time, where a single job's test above holds it to 1 s.
        assert 0 <= lag < 1.5, f"fired {lag:.3f}s after its due time"
        job = alice.wait_job(job["id"], "succeeded")
        (run,) = alice.runs(job["id"])
        assert request.headers["X-Sched-Run-Id"] == run["id"]
    for path in paths:
        target.expect_exactly(path, 1)
    # 20 runs in bundles of at most DISPATCH_BUNDLE (8): at least 3 messages, on SQLite too.
    assert worker.own_log_text().count("bundle of ") - bundles_before >= 3
    # The worker runs them on as many threads as its --concurrency (schedsite/celery.py).
    threads = e2e_stack.worker_concurrency
    assert f"run pool of {threads} threads started" in worker.own_log_text()
