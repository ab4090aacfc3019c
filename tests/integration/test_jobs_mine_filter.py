"""GET /jobs?mine=true: the caller's own jobs, also for who sees every job."""

from __future__ import annotations

import pytest

from tests.users import client_for, make_user

from .helpers import http_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(django_user_model):
    """Dana sees every job (jobs.view_all_jobs)."""
    return client_for(make_user("dana", "jobs.view_all_jobs"))


def create(client, **extra):
    response = client.post("/api/v1/jobs", http_job(**extra), format="json")
    assert response.status_code == 201, response.data
    return response.json()


def names(client, query: str) -> list[str]:
    return sorted(job["name"] for job in client.get(f"/api/v1/jobs?{query}").json()["results"])


def test_mine_keeps_the_callers_jobs_for_a_user_who_sees_every_job(api, operator):
    create(api, name="alices")
    create(operator, name="danas")
    assert names(operator, "") == ["alices", "danas"]
    assert names(operator, "mine=true") == ["danas"]
    assert names(operator, "mine=false") == ["alices"]
    assert names(api, "mine=true") == ["alices"]


def test_mine_works_inside_a_namespace(api, operator):
    create(api, name="alices", product="vps4", group="dns")
    create(operator, name="danas", product="vps4", group="dns")
    path = "/api/v1/products/vps4/groups/dns/jobs"
    assert sorted(j["name"] for j in operator.get(f"{path}?mine=true").json()["results"]) == [
        "danas"
    ]


def test_mine_takes_true_or_false_only(api):
    response = api.get("/api/v1/jobs?mine=yes")
    assert response.status_code == 400
    assert list(response.json()) == ["mine"]
