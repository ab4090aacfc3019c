"""POST /api/v1/jobs: every schedule form, normalized output, `now` jobs queued on commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from jobs.models import Job, Run, RunStatus
from tests.broker import queued

from .helpers import TARGET, http_job

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

MINIMAL = {
    "task": {
        "method": "POST",
        "uri": "http://www.example.com",
        "body": {},
        "expected_range": "200-300",
    },
    "schedule": "now",
}


def test_it_accepts_the_minimal_body(api):
    response = api.post("/api/v1/jobs", MINIMAL, format="json")
    assert response.status_code == 201, response.data
    job = response.json()
    assert job["link"] == f"http://testserver/api/v1/jobs/{job['id']}"
    assert response["Location"] == job["link"]
    assert job["type"] == "http"
    assert job["task"]["expected_range"] == "200-300"
    assert job["task"]["method"] == "POST"
    assert job["schedule"]["kind"] == "once"


def test_a_now_job_gets_its_run_published_after_commit(
    api, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/jobs", MINIMAL, format="json")
    job = Job.objects.get(id=response.json()["id"])
    run = job.runs.get()
    assert run.status == RunStatus.PENDING
    assert run.queued_at is not None
    assert str(run.idempotency_key) == str(run.id)
    assert job.next_run_at is None
    assert queued(broker, "http") == 1


def test_it_stores_every_field_normalized(api, alice):
    body = {
        "name": "nightly-backup",
        "product": "vps4",
        "group": "backups",
        "task": {
            "type": "http",
            "method": "put",
            "uri": TARGET,
            "headers": {"X-Token": "t"},
            "body": "plain text",
            "expected_range": "200,204,300-399",
            "timeout": "30s",
        },
        "schedule": {"cron": "0 3 * * *"},
        "timezone": "Europe/Berlin",
        "retry": {"max_attempts": 3, "backoff": "exponential", "delay": "10s", "max_delay": "10m"},
        "timeout": "5m",
        "concurrency": "forbid",
        "misfire_grace": "2m",
        "max_runs": 10,
        "payload": {"vm": 42},
    }
    response = api.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 201, response.data
    job = response.json()
    assert (job["name"], job["product"], job["group"]) == ("nightly-backup", "vps4", "backups")
    assert job["task"]["method"] == "PUT"
    assert job["task"]["timeout"] == 30.0
    assert job["schedule"] == {"kind": "cron", "cron": "0 3 * * *"}
    assert "Europe/Berlin" in job["schedule_description"]
    assert job["timeout"] == "5m"
    assert job["misfire_grace"] == "2m"
    assert job["retry"]["max_attempts"] == 3
    assert job["owner"] == "alice"
    assert job["status"] == "scheduled"
    next_run = parse_datetime(job["next_run_at"])
    assert next_run.astimezone(timezone.get_fixed_timezone(0)).hour in (1, 2)  # 03:00 Berlin
    assert job["counts"] == {"runs": 0, "succeeded": 0, "failed": 0}


@pytest.mark.parametrize(
    "schedule, kind",
    [
        ("now", "once"),
        ("2030-01-24T12:28:27-08:00", "once"),
        ("2030-01-24T12:28:27", "once"),
        ("30s", "once"),
        ("1h30m", "once"),
        ("in 2m", "once"),
        ("PT90S", "once"),
        ({"every": "10m"}, "interval"),
        (
            {"interval": {"weeks": 0, "days": 0, "hours": 0, "minutes": 0, "seconds": 30}},
            "interval",
        ),
        ({"cron": "*/5 * * * *"}, "cron"),
        ({"cron": "*/10 * * * * *"}, "cron"),
        ({"cron": "@hourly"}, "cron"),
        ({"cron": "@daily"}, "cron"),
        ({"cron": "@weekly"}, "cron"),
        ({"cron": "@monthly"}, "cron"),
        ({"cron": "@yearly"}, "cron"),
    ],
)
def test_it_accepts_every_schedule_form(api, schedule, kind):
    response = api.post("/api/v1/jobs", http_job(schedule), format="json")
    assert response.status_code == 201, response.data
    assert response.json()["schedule"]["kind"] == kind
    assert response.json()["schedule_description"]


def test_a_delay_fires_that_long_after_now(api):
    before = timezone.now()
    job = api.post("/api/v1/jobs", http_job("1h30m"), format="json").json()
    due = parse_datetime(job["next_run_at"])
    assert before + timedelta(minutes=90) <= due <= timezone.now() + timedelta(minutes=90)


def test_a_naive_date_time_is_read_in_the_jobs_timezone(api):
    job = api.post(
        "/api/v1/jobs", http_job("2030-07-01T09:00:00", timezone="America/New_York"), format="json"
    ).json()
    assert job["next_run_at"] == "2030-07-01T13:00:00Z"


def test_an_interval_starts_at_start_at_and_stops_at_end_at(api):
    job = api.post(
        "/api/v1/jobs",
        http_job({"every": "1h"}, start_at="2030-01-01T00:00:00Z", end_at="2030-01-01T02:30:00Z"),
        format="json",
    ).json()
    assert job["next_run_at"] == "2030-01-01T00:00:00Z"
    upcoming = api.get(f"/api/v1/jobs/{job['id']}/upcoming?count=10").json()["upcoming"]
    assert upcoming == ["2030-01-01T00:00:00Z", "2030-01-01T01:00:00Z", "2030-01-01T02:00:00Z"]


def test_upcoming_stops_after_max_runs(api):
    job = api.post(
        "/api/v1/jobs", http_job({"cron": "0 * * * *"}, max_runs=2), format="json"
    ).json()
    upcoming = api.get(f"/api/v1/jobs/{job['id']}/upcoming").json()["upcoming"]
    assert len(upcoming) == 2


def test_a_date_time_in_the_past_runs_at_once(api):
    response = api.post("/api/v1/jobs", http_job("2020-01-01T00:00:00Z"), format="json")
    assert response.status_code == 201
    assert Run.objects.filter(job_id=response.json()["id"]).count() == 1


def test_it_needs_credentials(client):
    response = client.post("/api/v1/jobs", MINIMAL, content_type="application/json")
    assert response.status_code == 401
    assert Job.objects.count() == 0
