"""Bad input: 400 naming the field, nothing written, never a 500."""

from __future__ import annotations

import pytest

from jobs.models import Job, Run

from .helpers import TARGET, http_job

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def task(**fields):
    return {"method": "POST", "uri": TARGET, **fields}


BAD_BODIES = [
    # (body, error path)
    ({"schedule": "now"}, ("task",)),
    ({"task": task()}, ("schedule",)),
    ({"task": task(method="FETCH"), "schedule": "now"}, ("task", "method")),
    ({"task": task(method=7), "schedule": "now"}, ("task", "method")),
    ({"task": task(uri="ftp://example.com/x"), "schedule": "now"}, ("task", "uri")),
    ({"task": task(uri="not a uri"), "schedule": "now"}, ("task", "uri")),
    ({"task": task(uri="http://"), "schedule": "now"}, ("task", "uri")),
    ({"task": task(uri="http://example.com:99999/"), "schedule": "now"}, ("task", "uri")),
    ({"task": task(uri=["http://example.com"]), "schedule": "now"}, ("task", "uri")),
    ({"task": {"method": "GET"}, "schedule": "now"}, ("task", "type")),
    ({"task": task(type="telepathy"), "schedule": "now"}, ("task", "type")),
    ({"task": task(expected_range="abc"), "schedule": "now"}, ("task", "expected_range")),
    ({"task": task(expected_range="300-200"), "schedule": "now"}, ("task", "expected_range")),
    ({"task": task(expected_range="200-700"), "schedule": "now"}, ("task", "expected_range")),
    ({"task": task(expected_range=[200, "x"]), "schedule": "now"}, ("task", "expected_range")),
    ({"task": task(headers=["X-A"]), "schedule": "now"}, ("task", "headers")),
    ({"task": task(headers={"Bad Name": "v"}), "schedule": "now"}, ("task", "headers")),
    ({"task": task(timeout="soon"), "schedule": "now"}, ("task", "timeout")),
    ({"task": task(timeout=-1), "schedule": "now"}, ("task", "timeout")),
    ({"task": task(surprise=1), "schedule": "now"}, ("task", "surprise")),
    ({"task": "http://example.com", "schedule": "now"}, ("task",)),
    ({"task": task(), "schedule": "tomorrow-ish"}, ("schedule",)),
    ({"task": task(), "schedule": ""}, ("schedule",)),
    ({"task": task(), "schedule": 17}, ("schedule",)),
    ({"task": task(), "schedule": ["now"]}, ("schedule",)),
    ({"task": task(), "schedule": "2026-02-30T10:00:00Z"}, ("schedule",)),
    ({"task": task(), "schedule": "-5m"}, ("schedule",)),
    ({"task": task(), "schedule": {"cron": "61 * * * *"}}, ("schedule",)),
    ({"task": task(), "schedule": {"cron": "* * *"}}, ("schedule",)),
    ({"task": task(), "schedule": {"cron": "0 0 30 2 *"}}, ("schedule",)),
    ({"task": task(), "schedule": {"cron": "@sometimes"}}, ("schedule",)),
    ({"task": task(), "schedule": {"every": "0s"}}, ("schedule",)),
    ({"task": task(), "schedule": {"every": "-10m"}}, ("schedule",)),
    ({"task": task(), "schedule": {"interval": {}}}, ("schedule",)),
    ({"task": task(), "schedule": {"interval": {"minutes": -1}}}, ("schedule",)),
    ({"task": task(), "schedule": {"interval": {"minutes": "5"}}}, ("schedule",)),
    ({"task": task(), "schedule": {"every": "1m", "cron": "* * * * *"}}, ("schedule",)),
    ({"task": task(), "schedule": "now", "timezone": "Mars/Olympus"}, ("timezone",)),
    ({"task": task(), "schedule": "now", "timezone": 5}, ("timezone",)),
    ({"task": task(), "schedule": {"every": "1m"}, "max_runs": 0}, ("max_runs",)),
    ({"task": task(), "schedule": {"every": "1m"}, "max_runs": "many"}, ("max_runs",)),
    ({"task": task(), "schedule": {"every": "1m"}, "start_at": "someday"}, ("start_at",)),
    (
        {
            "task": task(),
            "schedule": {"every": "1m"},
            "start_at": "2030-01-02T00:00:00Z",
            "end_at": "2030-01-01T00:00:00Z",
        },
        ("end_at",),
    ),
    ({"task": task(), "schedule": {"every": "1m"}, "end_at": "2020-01-01T00:00:00Z"}, ("end_at",)),
    ({"task": task(), "schedule": "in 5m", "max_runs": 3}, ("max_runs",)),
    ({"task": task(), "schedule": "now", "retry": {"max_attempts": 0}}, ("retry", "max_attempts")),
    ({"task": task(), "schedule": "now", "retry": {"backoff": "random"}}, ("retry", "backoff")),
    ({"task": task(), "schedule": "now", "retry": {"delay": "x"}}, ("retry", "delay")),
    ({"task": task(), "schedule": "now", "retry": 3}, ("retry",)),
    ({"task": task(), "schedule": "now", "timeout": "forever"}, ("timeout",)),
    ({"task": task(), "schedule": "now", "concurrency": "sometimes"}, ("concurrency",)),
    ({"task": task(), "schedule": "now", "payload": [1, 2]}, ("payload",)),
    ({"task": task(), "schedule": "now", "name": ["x"]}, ("name",)),
    ({"task": task(), "schedule": "now", "name": "x" * 201}, ("name",)),
    ({"task": task(), "schedule": "now", "colour": "red"}, ("colour",)),
]


@pytest.mark.parametrize(
    "body, path", BAD_BODIES, ids=[f"{i}-{'.'.join(p)}" for i, (_, p) in enumerate(BAD_BODIES)]
)
def test_it_rejects_a_bad_body_naming_the_field(api, body, path):
    response = api.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    for key in path:
        assert key in errors, errors
        errors = errors[key]
    assert errors, "the error names the problem"
    assert Job.objects.count() == 0
    assert Run.objects.count() == 0


@pytest.mark.parametrize("raw", [b"{bad json", b"", b"[1, 2]", b"null", b'"now"'])
def test_it_rejects_broken_or_non_object_json(api, raw):
    response = api.post("/api/v1/jobs", raw, content_type="application/json")
    assert response.status_code == 400
    assert Job.objects.count() == 0


def test_it_rejects_a_body_over_the_size_limit_with_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = http_job(name="x" * 2000)
    response = api.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 413
    assert Job.objects.count() == 0


def test_a_rejected_patch_changes_nothing(api):
    job = api.post("/api/v1/jobs", http_job({"every": "1h"}), format="json").json()
    response = api.patch(
        f"/api/v1/jobs/{job['id']}",
        {"name": "renamed", "schedule": {"cron": "bogus"}},
        format="json",
    )
    assert response.status_code == 400
    assert "schedule" in response.json()
    after = api.get(f"/api/v1/jobs/{job['id']}").json()
    assert after["name"] == job["name"]
    assert after["revision"] == job["revision"]
    assert after["next_run_at"] == job["next_run_at"]


@pytest.mark.parametrize("job_id", ["nope", "12345", "00000000-0000-0000-0000-000000000000"])
def test_unknown_or_malformed_ids_are_404(api, job_id):
    assert api.get(f"/api/v1/jobs/{job_id}").status_code == 404
    assert api.patch(f"/api/v1/jobs/{job_id}", {"name": "x"}, format="json").status_code == 404
    assert api.delete(f"/api/v1/jobs/{job_id}").status_code == 404
    assert api.post(f"/api/v1/jobs/{job_id}/run").status_code == 404
    assert api.get(f"/api/v1/runs/{job_id}").status_code == 404


@pytest.mark.parametrize("count", ["abc", "0", "1000"])
def test_upcoming_rejects_a_bad_count(api, count):
    job = api.post("/api/v1/jobs", http_job({"every": "1h"}), format="json").json()
    response = api.get(f"/api/v1/jobs/{job['id']}/upcoming?count={count}")
    assert response.status_code == 400
    assert "count" in response.json()


def test_list_rejects_an_unknown_status_filter(api):
    response = api.get("/api/v1/jobs?status=sleeping")
    assert response.status_code == 400
    assert "status" in response.json()
