"""End-to-end: cancel, reschedule, retries, timeouts, pause/resume, run now, ownership."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from .harness import parse_ts, record_lag, wait_until

pytestmark = [pytest.mark.e2e]


def _at(seconds: float) -> datetime:
    """A whole second about `seconds` from now (between seconds-1 and seconds)."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)


def _http(target, path: str, **extra) -> dict:
    return {"method": "POST", "uri": target.url(path), "body": {"path": path}, **extra}


def test_cancel_before_due(alice, target):
    path = target.path("ok")
    due = _at(3)
    job = alice.create_job({"task": _http(target, path), "schedule": due.isoformat()})
    # Let the dispatcher plan and queue the fire (2 s lookahead) before canceling.
    alice.wait_runs(job["id"], lambda runs: len(runs) == 1, what="the fire planned")

    response = alice.delete(f"jobs/{job['id']}")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "canceled"

    # Past the due time + 2 s: nothing arrives.
    wait_s = due.timestamp() + 2 - time.time()
    time.sleep(max(wait_s, 0))
    target.expect_exactly(path, 0)

    job = alice.job(job["id"])  # the record stays
    assert job["status"] == "canceled"
    assert job["next_run_at"] is None
    runs = alice.runs(job["id"])
    assert [r["status"] for r in runs] == ["canceled"], runs
    # Canceling again is harmless.
    assert alice.delete(f"jobs/{job['id']}").json()["status"] == "canceled"


def test_reschedule_moves_the_fire(alice, target):
    path = target.path("ok")
    old_due = _at(3)
    job = alice.create_job({"task": _http(target, path), "schedule": old_due.isoformat()})
    revision = job["revision"]
    # The old fire is planned and queued with an ETA before the reschedule.
    alice.wait_runs(job["id"], lambda runs: len(runs) == 1, what="the old fire planned")

    new_due = old_due + timedelta(seconds=2)
    response = alice.patch(f"jobs/{job['id']}", {"schedule": new_due.isoformat()})
    assert response.status_code == 200, response.text
    job = response.json()
    assert job["revision"] > revision
    assert parse_ts(job["next_run_at"]) == new_due.timestamp()
    assert job["status"] == "scheduled"

    (request,) = target.wait_for(path, 1, timeout=10)
    lag = request.received_at - new_due.timestamp()
    record_lag("rescheduled", lag)
    assert 0 <= lag < 1.0, f"arrived {lag:+.3f}s from the new due time"

    job = alice.wait_job(job["id"], "succeeded")
    runs = sorted(alice.runs(job["id"]), key=lambda r: r["due_at"])
    assert [(parse_ts(r["due_at"]), r["status"]) for r in runs] == [
        (old_due.timestamp(), "canceled"),
        (new_due.timestamp(), "succeeded"),
    ]
    assert request.headers["Idempotency-Key"] == runs[1]["id"]
    assert job["fire_count"] == 1
    time.sleep(0.5)
    target.expect_exactly(path, 1)


def test_retries_share_the_idempotency_key(alice, target):
    path = target.path("status/503")
    job = alice.create_job(
        {
            "task": _http(target, path),
            "schedule": "now",
            "retry": {"max_attempts": 3, "backoff": "fixed", "delay": "1s", "jitter": 0},
        }
    )
    requests = target.wait_for(path, 3, timeout=15)
    job = alice.wait_job(job["id"], "failed")

    runs = sorted(alice.runs(job["id"]), key=lambda r: r["attempt"])
    assert [r["attempt"] for r in runs] == [1, 2, 3]
    assert [r["trigger"] for r in runs] == ["schedule", "retry", "retry"]
    assert [r["status"] for r in runs] == ["failed"] * 3
    first = runs[0]["id"]
    for run in runs:
        detail = alice.run(run["id"])
        assert detail["idempotency_key"] == first
        assert detail["result"]["status_code"] == 503
        assert "503" in detail["error"]

    assert {r.headers["Idempotency-Key"] for r in requests} == {first}
    assert [r.headers["X-Sched-Attempt"] for r in requests] == ["1", "2", "3"]
    assert [r.headers["X-Sched-Run-Id"] for r in requests] == [r["id"] for r in runs]
    gaps = [b.received_at - a.received_at for a, b in zip(requests, requests[1:], strict=False)]
    assert all(0.9 < gap < 2.0 for gap in gaps), gaps
    assert job["counts"]["runs"] == 3
    time.sleep(0.5)
    target.expect_exactly(path, 3)


def test_timeout(alice, target):
    path = target.path("slow/3")
    job = alice.create_job({"task": _http(target, path, timeout="1s"), "schedule": "now"})
    target.wait_for(path, 1, timeout=10)
    job = alice.wait_job(job["id"], "failed", timeout=10)
    (run,) = alice.runs(job["id"])
    assert run["status"] == "timed_out"
    detail = alice.run(run["id"])
    took = parse_ts(detail["finished_at"]) - parse_ts(detail["started_at"])
    assert 0.9 < took < 2.5, f"the 1 s timeout stopped the request after {took:.2f}s"
    assert "status_code" not in detail["result"]
    target.expect_exactly(path, 1)


def test_pause_then_resume(alice, target):
    path = target.path("ok")
    job = alice.create_job({"task": _http(target, path), "schedule": {"every": "1s"}})
    job_id = job["id"]
    target.wait_for(path, 1, timeout=5)

    paused = alice.ok(alice.post(f"jobs/{job_id}/pause"))
    paused_at = time.time()
    assert paused["status"] == "paused"
    assert paused["next_run_at"] is None
    count = len(target.received(path))
    time.sleep(2.5)  # two and a half intervals with no fire
    assert len(target.received(path)) == count, "requests arrived while the job was paused"
    assert alice.job(job_id)["status"] == "paused"

    resumed = alice.ok(alice.post(f"jobs/{job_id}/resume"))
    resumed_at = time.time()
    assert resumed["status"] == "scheduled"
    assert resumed["next_run_at"] is not None
    requests = target.wait_for(path, count + 1, timeout=5)
    assert requests[count].received_at > resumed_at

    canceled = alice.ok(alice.delete(f"jobs/{job_id}"))
    assert canceled["status"] == "canceled"
    runs = alice.runs(job_id)
    started_in_pause = [
        r for r in runs if r["started_at"] and paused_at < parse_ts(r["started_at"]) < resumed_at
    ]
    assert not started_in_pause, started_in_pause
    ran = {r["id"] for r in runs if r["status"] == "succeeded"}
    time.sleep(1.2)  # a fire planned before the cancel does not run
    sent = {r.headers["X-Sched-Run-Id"] for r in target.received(path)}
    assert sent == ran, (sent, ran)
    target.expect_exactly(path, len(sent))


def test_run_now(alice, target):
    path = target.path("ok")
    tomorrow = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    job = alice.create_job({"task": _http(target, path), "schedule": tomorrow.isoformat()})

    asked = time.time()
    response = alice.post(f"jobs/{job['id']}/run")
    assert response.status_code in (201, 202), response.text
    run = response.json()
    assert run["trigger"] == "manual"
    assert run["job"] == job["id"]

    (request,) = target.wait_for(path, 1, timeout=5)
    assert request.received_at - asked < 1.5
    assert request.headers["Idempotency-Key"] == run["id"]
    wait_until(
        lambda: alice.run(run["id"])["status"] == "succeeded",
        timeout=5,
        what="the manual run to succeed",
    )

    job = alice.wait_job(job["id"], "scheduled")
    assert parse_ts(job["next_run_at"]) == tomorrow.timestamp()
    (listed,) = alice.runs(job["id"])
    assert listed["id"] == run["id"] and listed["trigger"] == "manual"
    time.sleep(0.5)
    target.expect_exactly(path, 1)


def test_other_users_job_is_not_found(alice, bob, anon, target):
    path = target.path("ok")
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    job = alice.create_job({"task": _http(target, path), "schedule": tomorrow.isoformat()})
    job_id = job["id"]
    run = alice.ok(alice.post(f"jobs/{job_id}/run"), 202)
    target.wait_for(path, 1, timeout=5)

    for method, url in [
        ("GET", f"jobs/{job_id}"),
        ("GET", f"jobs/{job_id}/runs"),
        ("GET", f"jobs/{job_id}/upcoming"),
        ("PATCH", f"jobs/{job_id}"),
        ("DELETE", f"jobs/{job_id}"),
        ("POST", f"jobs/{job_id}/pause"),
        ("POST", f"jobs/{job_id}/resume"),
        ("POST", f"jobs/{job_id}/run"),
        ("GET", f"runs/{run['id']}"),
    ]:
        body = {"name": "mine now"} if method == "PATCH" else None
        response = bob.request(method, url, json=body)
        assert response.status_code == 404, (method, url, response.status_code, response.text)
        assert anon.request(method, url, json=body).status_code == 401, (method, url)

    listed = bob.ok(bob.get("jobs", params={"limit": 100}))
    assert job_id not in {j["id"] for j in listed["results"]}

    job = alice.job(job_id)  # untouched by bob
    assert job["status"] == "scheduled" and job["name"] == "" and job["revision"] == 1
    assert len(alice.runs(job_id)) == 1
    time.sleep(0.3)
    target.expect_exactly(path, 1)
