"""PATCH (reschedule), DELETE (cancel), pause, resume and run now."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import dispatch, runner
from jobs.models import Job, Run, RunStatus

from .helpers import http_job

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


@pytest.fixture
def due_job(api, broker):
    """A job due within the dispatcher's lookahead, planned: its run is pending and queued."""
    job = api.post("/api/v1/jobs", http_job("1s"), format="json").json()
    assert dispatch.plan_due_fires() == 1
    return Job.objects.get(id=job["id"])


def test_patch_reschedules_and_the_old_fire_never_runs(api, due_job):
    old_run = due_job.runs.get()
    response = api.patch(f"/api/v1/jobs/{due_job.id}", {"schedule": "1h"}, format="json")
    assert response.status_code == 200, response.data
    body = response.json()
    assert body["revision"] == due_job.revision + 1
    assert body["status"] == "scheduled"
    old_run.refresh_from_db()
    assert old_run.status == RunStatus.CANCELED
    # Its message may still be delivered: the worker drops it.
    assert runner.claim(str(old_run.id)) is None
    due_job.refresh_from_db()
    assert due_job.next_run_at > timezone.now() + timedelta(minutes=59)


def test_patch_of_the_task_replans_the_fire_with_the_new_values(api, due_job):
    old_run = due_job.runs.get()
    response = api.patch(
        f"/api/v1/jobs/{due_job.id}",
        {"task": {"uri": "http://127.0.0.1:9/new", "method": "GET"}},
        format="json",
    )
    assert response.status_code == 200, response.data
    old_run.refresh_from_db()
    assert old_run.status == RunStatus.CANCELED
    assert dispatch.plan_due_fires() == 1
    new_run = Run.objects.exclude(id=old_run.id).get(job=due_job)
    assert new_run.due_at == old_run.due_at
    assert new_run.job_revision == old_run.job_revision + 1
    claimed = runner.claim(str(new_run.id))
    assert claimed is not None
    assert claimed.job.task["uri"] == "http://127.0.0.1:9/new"


def test_patch_changes_name_and_timezone_of_a_cron_job(api):
    job = api.post("/api/v1/jobs", http_job({"cron": "0 9 * * *"}), format="json").json()
    body = api.patch(
        f"/api/v1/jobs/{job['id']}", {"timezone": "Asia/Tokyo", "name": "n"}, format="json"
    ).json()
    assert body["name"] == "n"
    assert body["timezone"] == "Asia/Tokyo"
    assert body["next_run_at"].endswith("T00:00:00Z")  # 09:00 in Tokyo


def test_delete_cancels_and_keeps_the_record(api, due_job):
    run = due_job.runs.get()
    response = api.delete(f"/api/v1/jobs/{due_job.id}")
    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELED
    assert runner.claim(str(run.id)) is None
    shown = api.get(f"/api/v1/jobs/{due_job.id}").json()
    assert shown["status"] == "canceled"
    assert shown["next_run_at"] is None
    assert api.get(f"/api/v1/jobs/{due_job.id}/runs").json()["count"] == 1
    # Cancel is final: it cannot be rescheduled or run.
    assert (
        api.patch(f"/api/v1/jobs/{due_job.id}", {"schedule": "1h"}, format="json").status_code
        == 409
    )
    assert api.post(f"/api/v1/jobs/{due_job.id}/run").status_code == 409
    assert api.delete(f"/api/v1/jobs/{due_job.id}").status_code == 200


def test_pause_stops_fires_and_resume_starts_from_now(api):
    job = api.post("/api/v1/jobs", http_job({"every": "1h"}), format="json").json()
    paused = api.post(f"/api/v1/jobs/{job['id']}/pause").json()
    assert paused["status"] == "paused"
    assert paused["next_run_at"] is None
    assert api.get(f"/api/v1/jobs/{job['id']}/upcoming").json()["upcoming"] == []
    resumed = api.post(f"/api/v1/jobs/{job['id']}/resume").json()
    assert resumed["status"] == "scheduled"
    assert resumed["next_run_at"] == job["next_run_at"]


def test_a_paused_one_off_job_fires_on_resume_if_its_time_passed(api, due_job):
    api.post(f"/api/v1/jobs/{due_job.id}/pause")
    assert due_job.runs.get().status == RunStatus.CANCELED
    Job.objects.filter(id=due_job.id).update(anchor_at=timezone.now() - timedelta(minutes=1))
    resumed = api.post(f"/api/v1/jobs/{due_job.id}/resume").json()
    assert resumed["status"] == "scheduled"
    assert due_job.runs.filter(status=RunStatus.PENDING).count() == 1


def test_run_now_creates_a_manual_run(api):
    job = api.post("/api/v1/jobs", http_job("1d"), format="json").json()
    response = api.post(f"/api/v1/jobs/{job['id']}/run")
    assert response.status_code == 202
    run = response.json()
    assert run["trigger"] == "manual"
    assert run["status"] == "pending"
    assert response["Location"] == run["link"] == f"http://testserver/api/v1/runs/{run['id']}"
    # The schedule is untouched.
    assert api.get(f"/api/v1/jobs/{job['id']}").json()["next_run_at"] == job["next_run_at"]
