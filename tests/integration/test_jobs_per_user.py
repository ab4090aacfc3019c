"""Active jobs per user: MAX_JOBS_PER_USER, answered 400 naming the limit."""

from __future__ import annotations

import pytest

from jobs.models import Job, JobStatus

from .helpers import http_job

pytestmark = pytest.mark.django_db

LIMIT = 3


@pytest.fixture(autouse=True)
def limit(settings):
    settings.MAX_JOBS_PER_USER = LIMIT
    return settings


def _create(client, path="/api/v1/jobs"):
    return client.post(path, http_job(), format="json")


def _fill(client) -> list[str]:
    ids = []
    for _ in range(LIMIT):
        response = _create(client)
        assert response.status_code == 201, response.data
        ids.append(response.json()["id"])
    return ids


def test_a_user_at_the_limit_gets_400_naming_it_and_nothing_is_written(api, alice):
    _fill(api)
    response = _create(api)
    assert response.status_code == 400
    assert set(response.json()) == {"detail"}
    assert f"MAX_JOBS_PER_USER={LIMIT}" in response.json()["detail"]
    assert Job.objects.filter(owner=alice).count() == LIMIT


def test_the_namespaced_create_route_is_limited_too(api):
    _fill(api)
    assert _create(api, "/api/v1/products/p/groups/g/jobs").status_code == 400


def test_a_canceled_job_frees_its_place(api):
    ids = _fill(api)
    assert api.delete(f"/api/v1/jobs/{ids[0]}").status_code == 200
    assert _create(api).status_code == 201


@pytest.mark.parametrize("status", [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.COMPLETED])
def test_an_ended_job_frees_its_place(api, status):
    ids = _fill(api)
    Job.objects.filter(id=ids[0]).update(status=status)
    assert _create(api).status_code == 201


def test_paused_jobs_hold_their_place(api):
    ids = _fill(api)
    assert api.post(f"/api/v1/jobs/{ids[0]}/pause").status_code == 200
    assert _create(api).status_code == 400


def test_another_user_is_not_counted_against(api, bob_api):
    _fill(api)
    assert _create(bob_api).status_code == 201


def test_superusers_are_exempt(root):
    assert [_create(root).status_code for _ in range(LIMIT + 1)] == [201] * (LIMIT + 1)


def test_zero_means_no_limit(api, limit):
    limit.MAX_JOBS_PER_USER = 0
    assert [_create(api).status_code for _ in range(LIMIT + 1)] == [201] * (LIMIT + 1)
