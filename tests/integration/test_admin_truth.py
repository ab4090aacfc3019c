"""The admin tells the truth: coloured states, times to the second with their zone,
durations, runs that are records, a job's delete that cancels it as the API does, and
django-celery-beat's pages hidden unless asked for."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.test import RequestFactory

from jobs.models import Job, Run, RunStatus
from tests.users import grant

from .helpers import http_job, run_job

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
BEAT_HEADING = "Celery beat (internal housekeeping, not jobs)"


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    return client


def create(api, **body) -> Job:
    response = api.post("/api/v1/jobs", http_job(**body), format="json")
    assert response.status_code == 201, response.data
    return Job.objects.get(id=response.json()["id"])


def text(response) -> str:
    """A page's text, as a browser shows it (tags gone)."""
    return re.sub(r"<[^>]+>", "", response.content.decode())


def past_run(job: Job, status: str = RunStatus.SUCCEEDED, **fields) -> Run:
    return Run.objects.create(
        job=job,
        job_revision=job.revision,
        due_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        idempotency_key="6e2d1c3e-0000-4000-8000-000000000001",
        status=status,
        **fields,
    )


# -- a job's delete cancels it


def test_deleting_a_job_in_the_admin_cancels_it_and_keeps_its_runs(api, admin_client, broker):
    job = create(api, schedule="now", name="nightly-backup")
    pending = job.runs.get()
    done = past_run(job)
    confirm = admin_client.get(f"/admin/jobs/job/{job.id}/delete/").content.decode()
    assert "Cancel the job “nightly-backup”?" in confirm
    assert "Nothing is deleted" in confirm and "2 run(s)" in confirm
    assert "Are you sure you want to delete" not in confirm

    response = admin_client.post(f"/admin/jobs/job/{job.id}/delete/", {"post": "yes"}, follow=True)

    assert response.redirect_chain[-1][0] == f"/admin/jobs/job/{job.id}/change/"
    assert (
        "Canceled “nightly-backup” (jobs are kept with their runs; the API&#x27;s DELETE does "
        "the same)." in response.content.decode()
    )
    job.refresh_from_db()
    assert (job.status, job.next_run_at, job.revision) == ("canceled", None, 2)
    pending.refresh_from_db()
    assert pending.status == "canceled"
    assert Run.objects.get(id=done.id).status == "succeeded"
    entry = LogEntry.objects.get(object_id=str(job.id))
    assert entry.action_flag == CHANGE and "Canceled" in entry.change_message


def test_a_canceled_job_has_no_cancel_link_and_jobs_have_no_bulk_delete(api, admin_client):
    job = create(api)
    page = admin_client.get(f"/admin/jobs/job/{job.id}/change/").content.decode()
    assert ">Cancel job</a>" in page and ">Delete</a>" not in page
    admin_client.post(f"/admin/jobs/job/{job.id}/delete/", {"post": "yes"})
    page = admin_client.get(f"/admin/jobs/job/{job.id}/change/").content.decode()
    assert "Cancel job" not in page
    assert admin_client.get(f"/admin/jobs/job/{job.id}/delete/").status_code == 403
    listing = admin_client.get("/admin/jobs/job/").content.decode()
    assert 'value="cancel"' in listing and 'value="delete_selected"' not in listing


def test_staff_who_may_not_cancel_a_job_cannot_delete_it(api, client, charlie):
    job = create(api)
    grant(charlie, "jobs.view_job", "jobs.delete_job", "jobs.view_all_jobs")
    client.force_login(charlie)
    assert client.post(f"/admin/jobs/job/{job.id}/delete/", {"post": "yes"}).status_code == 403
    assert Job.objects.get(id=job.id).status == "scheduled"


# -- runs are records


def test_runs_cannot_be_added_changed_or_deleted(api, admin_client):
    job = create(api, name="nightly-backup")
    run = past_run(job, RunStatus.FAILED, error="Status 503 is outside 200-299")
    listing = admin_client.get("/admin/jobs/run/").content.decode()
    assert "Add run" not in listing and "/admin/jobs/run/add/" not in listing
    assert 'value="delete_selected"' not in listing
    assert admin_client.get("/admin/jobs/run/add/").status_code == 403

    page = admin_client.get(f"/admin/jobs/run/{run.id}/change/").content.decode()
    title = "Run of nightly-backup @ 2026-01-02 03:04:05 UTC #1"
    assert f"<h1>{title}</h1>" in page
    assert f"<title>{title} |" in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert "deletelink" not in page
    assert str(run) == title

    changed = admin_client.post(f"/admin/jobs/run/{run.id}/change/", {"status": "succeeded"})
    assert changed.status_code == 403
    assert (
        admin_client.post(f"/admin/jobs/run/{run.id}/delete/", {"post": "yes"}).status_code == 403
    )
    assert Run.objects.get(id=run.id).status == "failed"


def test_notifications_and_deliveries_are_never_deleted_here(admin_client):
    for model in ("notification", "delivery"):
        listing = admin_client.get(f"/admin/notifications/{model}/").content.decode()
        assert 'value="delete_selected"' not in listing
        assert f"/admin/notifications/{model}/add/" not in listing


def test_only_users_groups_and_tokens_can_be_added_in_the_admin(django_user_model):
    request = RequestFactory().get("/admin/")
    request.user = django_user_model(username="root", is_superuser=True, is_staff=True)
    addable = {
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if model_admin.has_add_permission(request)
    }
    # Jobs come through the API, runs from the scheduler, channels and rules through the
    # API (which validates them), notifications and attempts from the outbox.
    assert addable == {"auth.User", "auth.Group", "authtoken.TokenProxy"}


# -- what the lists show


def test_times_are_shown_to_the_second_with_their_zone(api, admin_client):
    job = create(api, schedule="2030-01-01T00:00:03Z", name="later")
    assert "2030-01-01 00:00:03 UTC" in text(admin_client.get("/admin/jobs/job/"))
    # A date field Django renders on its own (read-only on the job's page) reads the same.
    page = text(admin_client.get(f"/admin/jobs/job/{job.id}/change/"))
    assert "Next run at:\n2030-01-01 00:00:03 UTC" in re.sub(r"\n\s+", "\n", page)
    run = past_run(job)
    assert "2026-01-02 03:04:05 UTC" in text(admin_client.get("/admin/jobs/run/"))
    run_page = text(admin_client.get(f"/admin/jobs/run/{run.id}/change/"))
    assert "Due at:\n2026-01-02 03:04:05 UTC" in re.sub(r"\n\s+", "\n", run_page)


def test_the_lists_colour_status_health_and_last_result(api, admin_client, target):
    run_job(api, http_job("1s", name="failing-job", task={"uri": f"{target.url}/status/500"}))
    run_job(api, http_job("1s", name="fine-job", task={"uri": f"{target.url}/ok"}))
    create(api, name="waiting-job")
    listing = admin_client.get("/admin/jobs/job/").content.decode()
    for colour, text in [
        ("red", "failed"),  # the one-off job's status
        ("red", "failing (1)"),  # its health
        ("red", "failed 500"),  # its last result
        ("green", "succeeded"),
        ("green", "ok"),
        ("green", "succeeded 200"),
        ("grey", "scheduled"),
        ("grey", "unknown"),
    ]:
        badge = rf'<span class="sched-badge sched-{colour}" title="[^"]*">{re.escape(text)}</span>'
        assert re.search(badge, listing), (colour, text)
    assert "/static/jobs/admin.css" in listing
    runs = admin_client.get("/admin/jobs/run/").content.decode()
    assert ">failed 500</span>" in runs and ">succeeded 200</span>" in runs
    assert ">http</td>" in runs  # the queue
    assert " ms</td>" in runs or " s</td>" in runs  # the duration


def test_a_long_name_is_cut_with_the_whole_of_it_in_the_tooltip(api, admin_client):
    name = "a-very-long-job-name-that-would-widen-the-list-" * 3
    job = create(api, name=name)
    listing = admin_client.get("/admin/jobs/job/").content.decode()
    assert f'title="{name}\n{job.id}">{name[:23]}…</span>' in listing


# -- django-celery-beat's pages


def test_beat_models_are_hidden_by_default(admin_client):
    index = admin_client.get("/admin/").content.decode()
    assert "Periodic tasks" not in index and BEAT_HEADING not in index
    assert admin_client.get("/admin/django_celery_beat/periodictask/").status_code == 404


APP_LIST = """
import json
import django
django.setup()
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import RequestFactory
request = RequestFactory().get("/admin/")
request.user = User(username="root", is_superuser=True, is_staff=True, is_active=True)
apps = admin.site.get_app_list(request)
names = {str(app["name"]): sorted(m["object_name"] for m in app["models"]) for app in apps}
print(json.dumps(names))
"""


def admin_apps(tmp_path, **env: str) -> dict[str, list[str]]:
    """The admin index's apps and models in a fresh process of the real settings."""
    done = subprocess.run(
        [sys.executable, "-c", APP_LIST],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "schedsite.settings",
            "SECRET_KEY": "admin-truth-test-" + "0123456789abcdef" * 3,
            "VAR_DIR": str(tmp_path),
            "DATABASE_URL": "",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_beat_models_are_shown_under_their_heading_with_the_setting(tmp_path):
    hidden = admin_apps(tmp_path)
    assert "Jobs" in hidden and BEAT_HEADING not in hidden
    shown = admin_apps(tmp_path, ADMIN_SHOW_BEAT_MODELS="1")
    assert shown[BEAT_HEADING] == [
        "ClockedSchedule",
        "CrontabSchedule",
        "IntervalSchedule",
        "PeriodicTask",
        "SolarSchedule",
    ]
