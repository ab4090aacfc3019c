"""Catalog tasks say who may use them: the maintenance tasks need jobs.run_maintenance."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from jobs.models import Job
from tests.users import client_for, make_user

pytestmark = pytest.mark.django_db

PRUNE_RUNS = {
    "task": {"type": "catalog", "name": "sched.prune_runs"},
    "payload": {"older_than": "1ms"},
    "schedule": "1h",
}


@pytest.fixture
def maintainer(db) -> APIClient:
    return client_for(make_user("maya", "jobs.run_maintenance"))


@pytest.mark.parametrize("name", ["sched.prune_runs", "sched.prune_scripts"])
def test_an_ordinary_user_cannot_create_a_maintenance_task(api, coder, name):
    for client in (api, coder):  # run_code does not grant it either
        response = client.post(
            "/api/v1/jobs", {**PRUNE_RUNS, "task": {"type": "catalog", "name": name}}, "json"
        )
        assert response.status_code == 403, response.data
        assert "jobs.run_maintenance" in response.json()["detail"]
    assert not Job.objects.exists()


def test_an_ordinary_user_cannot_turn_a_job_into_a_maintenance_task(api):
    job = api.post(
        "/api/v1/jobs",
        {"task": {"type": "catalog", "name": "sched.echo"}, "schedule": "1h"},
        "json",
    ).json()
    response = api.patch(
        f"/api/v1/jobs/{job['id']}",
        {"task": PRUNE_RUNS["task"], "payload": PRUNE_RUNS["payload"]},
        "json",
    )
    assert response.status_code == 403
    assert Job.objects.get(id=job["id"]).task["name"] == "sched.echo"


def test_a_holder_of_run_maintenance_and_a_superuser_may(maintainer, root):
    for client in (maintainer, root):
        assert client.post("/api/v1/jobs", PRUNE_RUNS, "json").status_code == 201


def test_the_catalog_lists_the_permission_each_task_needs(api):
    tasks = {t["name"]: t for t in api.get("/api/v1/catalog").json()["results"]}
    assert tasks["sched.prune_runs"]["permission"] == "jobs.run_maintenance"
    assert tasks["sched.prune_scripts"]["permission"] == "jobs.run_maintenance"
    assert tasks["sched.echo"]["permission"] is None


def test_sched_sleep_is_bounded_to_an_hour(api):
    response = api.post(
        "/api/v1/jobs",
        {
            "task": {"type": "catalog", "name": "sched.sleep"},
            "payload": {"seconds": 3601},
            "schedule": "1h",
        },
        "json",
    )
    assert response.status_code == 400
    assert "seconds" in response.json()["payload"]
