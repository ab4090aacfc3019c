"""Listing, retrieving, filters, ownership, runs, preview, health, schema and docs."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import Job, Run, RunStatus, Trigger

from .helpers import http_job

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def create(api, **extra):
    response = api.post("/api/v1/jobs", http_job(**extra), format="json")
    assert response.status_code == 201, response.data
    return response.json()


def test_list_is_newest_first_and_paginated(api):
    ids = [create(api, name=f"job-{i}")["id"] for i in range(3)]
    page = api.get("/api/v1/jobs?limit=2").json()
    assert page["count"] == 3
    assert [job["id"] for job in page["results"]] == ids[::-1][:2]
    assert page["next"]
    rest = api.get(page["next"]).json()
    assert [job["id"] for job in rest["results"]] == [ids[0]]


def test_list_filters_by_status_type_product_group_and_name(api):
    a = create(api, name="a", product="vps4", group="backups")
    create(api, name="b", product="vps4", group="dns")
    c = create(api, name="c", product="mail", group="backups")
    api.delete(f"/api/v1/jobs/{c['id']}")

    def names(query):
        return sorted(job["name"] for job in api.get(f"/api/v1/jobs?{query}").json()["results"])

    assert names("product=vps4") == ["a", "b"]
    assert names("group=backups") == ["a", "c"]
    assert names("product=vps4&group=backups") == ["a"]
    assert names("status=canceled") == ["c"]
    assert names("status=scheduled") == ["a", "b"]
    assert names("type=http") == ["a", "b", "c"]
    assert names(f"name={a['name']}") == ["a"]


def test_users_see_only_their_own_jobs(api, bob_api):
    job = create(api)
    assert bob_api.get("/api/v1/jobs").json()["count"] == 0
    assert bob_api.get(f"/api/v1/jobs/{job['id']}").status_code == 404
    assert (
        bob_api.patch(f"/api/v1/jobs/{job['id']}", {"name": "x"}, format="json").status_code == 404
    )
    assert bob_api.delete(f"/api/v1/jobs/{job['id']}").status_code == 404
    assert bob_api.post(f"/api/v1/jobs/{job['id']}/pause").status_code == 404
    assert bob_api.post(f"/api/v1/jobs/{job['id']}/run").status_code == 404
    assert bob_api.get(f"/api/v1/jobs/{job['id']}/runs").status_code == 404
    assert Job.objects.get(id=job["id"]).status == "scheduled"


def test_runs_are_listed_newest_first_and_shown_with_their_output(api, bob_api):
    job = create(api)
    obj = Job.objects.get(id=job["id"])
    old = Run.objects.create(
        job=obj,
        job_revision=1,
        due_at="2030-01-01T00:00:00Z",
        idempotency_key="6e2d1c3e-0000-4000-8000-000000000001",
        status=RunStatus.FAILED,
        error="Status 503",
        result={"status_code": 503, "body": "down"},
    )
    new = Run.objects.create(
        job=obj,
        job_revision=1,
        due_at="2030-01-01T00:00:00Z",
        attempt=2,
        trigger=Trigger.RETRY,
        idempotency_key=old.idempotency_key,
        status=RunStatus.SUCCEEDED,
        result={"status_code": 200, "body": "ok"},
    )
    runs = api.get(f"/api/v1/jobs/{job['id']}/runs").json()
    assert [r["id"] for r in runs["results"]] == [str(new.id), str(old.id)]
    assert runs["results"][0]["attempt"] == 2
    detail = api.get(f"/api/v1/runs/{old.id}").json()
    assert detail["result"] == {"status_code": 503, "body": "down"}
    assert detail["error"] == "Status 503"
    assert detail["job"] == job["id"]
    assert bob_api.get(f"/api/v1/runs/{old.id}").status_code == 404


def test_retrieve_shows_counts_and_description(api):
    job = create(api, schedule={"every": "90m"})
    shown = api.get(f"/api/v1/jobs/{job['id']}").json()
    assert shown["schedule_description"] == "every 1 hour 30 minutes"
    assert shown["counts"] == {"runs": 0, "succeeded": 0, "failed": 0}
    assert shown["next_run_at"]


def test_list_shows_each_jobs_counts_in_one_query_for_the_page(api, django_assert_max_num_queries):
    busy = create(api, name="busy")
    create(api, name="idle")
    for status in (RunStatus.SUCCEEDED, RunStatus.SUCCEEDED, RunStatus.LOST, RunStatus.PENDING):
        Run.objects.create(
            job_id=busy["id"],
            job_revision=1,
            due_at=timezone.now() - timedelta(minutes=Run.objects.count()),
            idempotency_key=uuid.uuid4(),
            status=status,
        )
    shown = {job["name"]: job["counts"] for job in api.get("/api/v1/jobs").json()["results"]}
    assert shown == {
        "busy": {"runs": 4, "succeeded": 2, "failed": 1},
        "idle": {"runs": 0, "succeeded": 0, "failed": 0},
    }
    for i in range(10):
        create(api, name=f"more-{i}")
    # A page of 12 jobs: the token, the user's permissions and their groups' (whether
    # they see every job), the count, the page, the runs' counts and the `notify` rules.
    with django_assert_max_num_queries(7):
        assert len(api.get("/api/v1/jobs").json()["results"]) == 12


def test_preview_validates_without_creating(api):
    response = api.post(
        "/api/v1/schedules/preview",
        {"schedule": {"cron": "30 2 * * *"}, "timezone": "America/New_York", "count": 3},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["schedule"] == {"kind": "cron", "cron": "30 2 * * *"}
    assert "America/New_York" in body["description"]
    assert len(body["upcoming"]) == 3
    assert Job.objects.count() == 0


def test_preview_follows_dst_in_the_zone(api):
    body = api.post(
        "/api/v1/schedules/preview",
        {
            "schedule": {"cron": "30 2 * * *"},
            "timezone": "America/New_York",
            "start_at": "2030-03-09T12:00:00Z",
            "count": 3,
        },
        format="json",
    ).json()
    # 2030-03-10: 02:30 does not exist in New York; it runs at 03:00 EDT (07:00Z).
    assert body["upcoming"] == [
        "2030-03-10T07:00:00Z",
        "2030-03-11T06:30:00Z",
        "2030-03-12T06:30:00Z",
    ]


def test_preview_rejects_a_bad_schedule_naming_it(api):
    response = api.post(
        "/api/v1/schedules/preview", {"schedule": {"cron": "99 * * * *"}}, format="json"
    )
    assert response.status_code == 400
    assert "schedule" in response.json()


def test_health_answers_without_credentials(client, broker):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_health_names_the_broker_when_it_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/api/v1/health")
    assert response.status_code == 503
    assert response.json()["database"] == "ok"
    assert response.json()["broker"].startswith("error")


def test_schema_and_docs_are_served(client, api):
    schema = api.get("/api/v1/schema")
    assert schema.status_code == 200
    assert b"/api/v1/jobs" in schema.content
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    # The UI assets come from this server (drf-spectacular-sidecar), not a CDN. (Not a
    # search for "cdn": the page embeds a random CSRF token, which may hold those letters.)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(url.startswith("/") for url in assets), assets
    assert "/static/drf_spectacular_sidecar/" in html
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200
    asset.close()


def test_the_browsable_api_works_with_a_session(client, alice):
    client.force_login(alice)
    response = client.get("/api/v1/jobs", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"Job List" in response.content


def test_the_admin_lists_jobs_and_runs(client, django_user_model, api):
    create(api, name="admin-visible")
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    assert b"admin-visible" in client.get("/admin/jobs/job/").content
    job = Job.objects.get(name="admin-visible")
    run = Run.objects.create(
        job=job,
        job_revision=1,
        due_at="2030-01-01T00:00:00Z",
        idempotency_key="6e2d1c3e-0000-4000-8000-000000000003",
        status=RunStatus.FAILED,
        error="Status 503 is outside",
    )
    page = client.get(f"/admin/jobs/job/{job.id}/change/").content.decode()
    assert f"/admin/jobs/run/{run.id}/change/" in page
    assert "Status 503 is outside" in page
    runs = client.get(f"/admin/jobs/run/?job__id__exact={job.id}").content.decode()
    assert str(run.id) in runs or "2030-01-01" in runs
    assert client.get(f"/admin/jobs/run/{run.id}/change/").status_code == 200


def test_admin_actions_go_through_the_services(client, django_user_model, api):
    job = create(api, schedule={"every": "1h"})
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    response = client.post(
        "/admin/jobs/job/", {"action": "pause", "_selected_action": [job["id"]]}, follow=True
    )
    assert response.status_code == 200
    paused = Job.objects.get(id=job["id"])
    assert (paused.status, paused.next_run_at, paused.revision) == ("paused", None, 2)
    client.post("/admin/jobs/job/", {"action": "cancel", "_selected_action": [job["id"]]})
    assert Job.objects.get(id=job["id"]).status == "canceled"


def test_a_database_outage_is_a_retryable_503(api, monkeypatch):
    from django.db import OperationalError

    def unavailable(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("jobs.api.views.services.job_run_now", unavailable)
    job = create(api)
    response = api.post(f"/api/v1/jobs/{job['id']}/run")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
