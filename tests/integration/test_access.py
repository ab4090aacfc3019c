"""Staff is not a super power: seeing and acting on others' jobs, and running code, come
only from explicit permissions (jobs.access) or superuser, in the API and the admin."""

from __future__ import annotations

import pytest

from jobs.models import Job, JobStatus
from tests.users import client_for, grant

from .helpers import http_job

pytestmark = pytest.mark.django_db

COMMAND = {"task": {"type": "command", "command": ["true"]}, "schedule": {"every": "1h"}}


@pytest.fixture
def coder_job(coder):
    response = coder.post("/api/v1/jobs", COMMAND, "json")
    assert response.status_code == 201, response.data
    return response.json()


def test_staff_alone_see_neither_others_jobs_nor_their_secrets(api, staff_api):
    body = http_job("1h")
    body["task"]["headers"] = {"X-Token": "s3cret"}
    job = api.post("/api/v1/jobs", body, "json").json()
    assert staff_api.get("/api/v1/jobs").json()["count"] == 0
    assert staff_api.get(f"/api/v1/jobs/{job['id']}").status_code == 404
    assert staff_api.post(f"/api/v1/jobs/{job['id']}/pause").status_code == 404
    assert staff_api.delete(f"/api/v1/jobs/{job['id']}").status_code == 404


def test_staff_alone_cannot_run_change_or_cancel_a_command_job(coder_job, staff_api):
    for method, path in [
        ("post", f"/api/v1/jobs/{coder_job['id']}/run"),
        ("post", f"/api/v1/jobs/{coder_job['id']}/resume"),
        ("patch", f"/api/v1/jobs/{coder_job['id']}"),
        ("delete", f"/api/v1/jobs/{coder_job['id']}"),
    ]:
        response = getattr(staff_api, method)(path, {"name": "x"}, format="json")
        assert response.status_code == 404, (path, response.status_code)
    assert Job.objects.get(id=coder_job["id"]).status == JobStatus.SCHEDULED
    assert not Job.objects.get(id=coder_job["id"]).runs.exists()


def test_view_all_jobs_shows_others_jobs_but_gives_no_right_to_act(charlie, coder_job):
    grant(charlie, "jobs.view_all_jobs")
    viewer = client_for(charlie)
    assert viewer.get(f"/api/v1/jobs/{coder_job['id']}").status_code == 200
    assert viewer.get(f"/api/v1/jobs/{coder_job['id']}/runs").status_code == 200
    response = viewer.post(f"/api/v1/jobs/{coder_job['id']}/pause")
    assert response.status_code == 403
    assert "jobs.change_job" in response.json()["detail"]


def test_change_job_lets_an_operator_pause_and_cancel_but_not_run_code(charlie, coder_job):
    grant(charlie, "jobs.view_all_jobs", "jobs.change_job")
    operator = client_for(charlie)
    for path in (f"/api/v1/jobs/{coder_job['id']}/run", f"/api/v1/jobs/{coder_job['id']}/resume"):
        response = operator.post(path)
        assert response.status_code == 403, path
        assert "jobs.run_code" in response.json()["detail"]
    response = operator.patch(f"/api/v1/jobs/{coder_job['id']}", {"name": "x"}, "json")
    assert response.status_code == 403
    assert operator.post(f"/api/v1/jobs/{coder_job['id']}/pause").status_code == 200
    assert operator.delete(f"/api/v1/jobs/{coder_job['id']}").status_code == 200
    assert not Job.objects.get(id=coder_job["id"]).runs.exclude(status="canceled").exists()


def test_an_operator_with_run_code_may_run_anothers_command_job(charlie, coder_job):
    grant(charlie, "jobs.view_all_jobs", "jobs.change_job", "jobs.run_code")
    response = client_for(charlie).post(f"/api/v1/jobs/{coder_job['id']}/run")
    assert response.status_code == 202, response.data


def test_an_owner_who_lost_run_code_cannot_run_or_resume_their_command_job(
    django_user_model, coder, coder_job
):
    user = django_user_model.objects.get(username="coder")
    user.user_permissions.clear()
    assert coder.post(f"/api/v1/jobs/{coder_job['id']}/pause").status_code == 200
    response = coder.post(f"/api/v1/jobs/{coder_job['id']}/resume")
    assert response.status_code == 403
    assert coder.post(f"/api/v1/jobs/{coder_job['id']}/run").status_code == 403
    assert Job.objects.get(id=coder_job["id"]).status == JobStatus.PAUSED


def test_a_superuser_sees_and_acts_on_every_job(root, coder_job):
    assert root.get("/api/v1/jobs").json()["count"] == 1
    assert root.post(f"/api/v1/jobs/{coder_job['id']}/run").status_code == 202


def test_the_admin_applies_the_same_rules_to_staff(client, charlie, coder_job):
    grant(charlie, "jobs.view_job", "jobs.change_job", "jobs.view_run")
    client.force_login(charlie)
    page = client.get("/admin/jobs/job/")
    assert page.status_code == 200
    assert coder_job["id"] not in page.content.decode()
    assert client.get(f"/admin/jobs/job/{coder_job['id']}/change/").status_code == 302
    grant(charlie, "jobs.view_all_jobs")
    page = client.get("/admin/jobs/job/")
    assert coder_job["id"] in page.content.decode() or "1 job" in page.content.decode()
    response = client.post(
        "/admin/jobs/job/",
        {"action": "run_now", "_selected_action": [coder_job["id"]]},
        follow=True,
    )
    assert "jobs.run_code" in response.content.decode()
    assert not Job.objects.get(id=coder_job["id"]).runs.exists()
