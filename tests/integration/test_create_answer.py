"""A create answers the job as a GET of it right after does: its counts and notify rules
are known without reading them back (jobs.services._create), and must agree."""

from __future__ import annotations

import pytest

from .helpers import http_job

pytestmark = pytest.mark.django_db(transaction=True)


def channel(api) -> str:
    body = {"name": "ops", "kind": "webhook", "url": "https://hooks.example.com/x"}
    response = api.post("/api/v1/channels", body, format="json")
    assert response.status_code == 201, response.data
    return response.json()["id"]


@pytest.mark.parametrize(
    "extra",
    [
        {},  # a fire to come: no run yet
        {"schedule": "now"},  # due now: its run is made with it
        {"schedule": {"every": "1h"}, "name": "hourly"},
        "notify",
    ],
)
def test_the_create_answers_what_a_get_right_after_does(api, extra):
    body = (
        http_job(notify=[{"channel": channel(api), "on": ["failure"]}])
        if extra == "notify"
        else http_job(**extra)
    )
    created = api.post("/api/v1/jobs", body, format="json")
    assert created.status_code == 201, created.data
    read = api.get(f"/api/v1/jobs/{created.json()['id']}").json()
    answered = created.json()
    for moving in ("status", "next_run_at", "updated_at"):  # a fire may start meanwhile
        answered.pop(moving), read.pop(moving)
    assert answered == read
