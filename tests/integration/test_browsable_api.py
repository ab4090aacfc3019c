"""The browsable API: links are absolute (clickable), and the PATCH form holds the job's
writable fields, which a PATCH takes back as shown."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.utils import timezone

from jobs.models import Job, JobStatus, Run, RunStatus

from .helpers import http_job

pytestmark = pytest.mark.django_db

BASE = "http://testserver"


def page(api, url: str) -> str:
    response = api.get(url, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    return response.content.decode()


def raw_form(text: str) -> dict:
    """The JSON in the page's raw data form (the PATCH form of a job's page)."""
    (content,) = re.findall(r'<textarea[^>]*name="_content"[^>]*>(.*?)</textarea>', text, re.S)
    return json.loads(html.unescape(content))


def test_links_are_absolute_on_the_address_asked(api):
    job = api.post("/api/v1/jobs", http_job("now"), format="json").json()
    assert job["link"] == f"{BASE}/api/v1/jobs/{job['id']}"
    shown = api.get(job["link"]).json()  # followed as it is
    assert shown["id"] == job["id"]
    run = api.get(f"{job['link']}/runs").json()["results"][0]
    assert run["link"] == f"{BASE}/api/v1/runs/{run['id']}"
    assert api.get(run["link"]).json()["job_link"] == job["link"]
    assert api.get(run["link"]).json()["link"] == run["link"]
    other = api.get(f"/api/v1/jobs/{job['id']}", HTTP_HOST="localhost:8000").json()
    assert other["link"] == f"http://localhost:8000/api/v1/jobs/{job['id']}"


def test_the_browsable_api_makes_the_links_clickable(api):
    job = api.post("/api/v1/jobs", http_job(), format="json").json()
    assert f'href="{BASE}/api/v1/jobs/{job["id"]}"' in page(api, "/api/v1/jobs")


def test_the_patch_form_holds_only_the_writable_fields(api):
    job = api.post(
        "/api/v1/jobs",
        http_job({"every": "10m"}, name="a", timeout="5m", misfire_grace="30s"),
        format="json",
    ).json()
    form = raw_form(page(api, f"/api/v1/jobs/{job['id']}"))
    assert set(form) == {
        "name",
        "product",
        "group",
        "task",
        "schedule",
        "timezone",
        "start_at",
        "end_at",
        "max_runs",
        "timeout",
        "retry",
        "concurrency",
        "misfire_grace",
        "payload",
        "pause_after_failures",
        "notify",
    }
    assert form["schedule"] == {"every": "10m"}
    assert (form["timeout"], form["misfire_grace"]) == ("5m", "30s")


def test_the_patch_form_sent_back_as_shown_is_taken_and_plans_nothing_anew(api):
    job = api.post("/api/v1/jobs", http_job({"cron": "0 3 * * *"}), format="json").json()
    form = raw_form(page(api, f"/api/v1/jobs/{job['id']}"))
    form["name"] = "renamed"
    response = api.patch(f"/api/v1/jobs/{job['id']}", form, format="json")
    assert response.status_code == 200, response.data
    changed = response.json()
    assert changed["name"] == "renamed"
    assert changed["next_run_at"] == job["next_run_at"]
    assert changed["schedule"] == job["schedule"]


def test_the_form_of_a_one_off_job_that_ran_does_not_run_it_again(api):
    job = api.post("/api/v1/jobs", http_job("now"), format="json").json()
    Run.objects.filter(job_id=job["id"]).update(
        status=RunStatus.SUCCEEDED, started_at=timezone.now(), finished_at=timezone.now()
    )
    Job.objects.filter(id=job["id"]).update(status=JobStatus.SUCCEEDED)
    form = raw_form(page(api, f"/api/v1/jobs/{job['id']}"))
    assert form["schedule"] == job["schedule"]["at"]  # a date-time now in the past
    form["name"] = "renamed"
    response = api.patch(f"/api/v1/jobs/{job['id']}", form, format="json")
    assert response.status_code == 200, response.data
    assert Job.objects.get(id=job["id"]).runs.count() == 1
    assert response.json()["next_run_at"] is None
    assert response.json()["status"] == "succeeded"


def test_a_changed_schedule_in_the_form_reschedules(api):
    job = api.post("/api/v1/jobs", http_job({"every": "10m"}), format="json").json()
    form = raw_form(page(api, f"/api/v1/jobs/{job['id']}"))
    form["schedule"] = {"every": "1h"}
    changed = api.patch(f"/api/v1/jobs/{job['id']}", form, format="json").json()
    assert changed["schedule"] == {"kind": "interval", "every": "1h"}
    assert changed["next_run_at"] != job["next_run_at"]


def test_the_create_form_shows_the_fields_a_create_takes(api):
    text = page(api, "/api/v1/jobs")
    assert 'name="schedule"' in text
    assert 'name="owner"' not in text
    form = raw_form(text)
    assert "owner" not in form and "link" not in form and "schedule" in form
