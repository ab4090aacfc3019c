"""What an ordinary user may ask for is bounded: each limit answers 400 naming the field
and the limit, and changes nothing; superusers are not held to them."""

from __future__ import annotations

import pytest
from django.test import override_settings

from jobs.models import Job

from .helpers import http_job

pytestmark = pytest.mark.django_db

PROD_LIMITS = {
    "MIN_INTERVAL": 10.0,
    "MAX_INTERVAL": 3660 * 86400.0,
    "MAX_SCHEDULE_AHEAD": 3660 * 86400.0,
    "MAX_TIMEOUT": 86400.0,
    "MAX_RETRY_DELAY": 7 * 86400.0,
    "MAX_MISFIRE_GRACE": 7 * 86400.0,
    "MAX_CRON_LENGTH": 120,
    "MAX_TASK_BYTES": 64 * 1024,
    "MAX_PAYLOAD_BYTES": 64 * 1024,
}


@pytest.fixture(autouse=True)
def _default_limits():
    with override_settings(SCHED_LIMITS=PROD_LIMITS):
        yield


def catalog_job(schedule, **extra):
    return {"task": {"type": "catalog", "name": "sched.echo"}, "schedule": schedule, **extra}


BIG = "x" * (64 * 1024)
CASES = {
    "an interval of 1 ms": (http_job({"every": "1ms"}), ("schedule",), "MIN_INTERVAL"),
    "an interval of 9 s": (http_job({"interval": {"seconds": 9}}), ("schedule",), "MIN_INTERVAL"),
    "a cron every second": (http_job({"cron": "* * * * * *"}), ("schedule",), "MIN_INTERVAL"),
    "a cron twice in a second's span": (
        http_job({"cron": "0,1 30 12 * * *"}),
        ("schedule",),
        "fires every 1s",
    ),
    "an interval of 11 years": (http_job({"every": "4020d"}), ("schedule",), "MAX_INTERVAL"),
    "the issue's overflowing interval": (
        catalog_job({"every": "999999999d"}, start_at="in 2s"),
        ("schedule",),
        "longer than 36500 days",
    ),
    "a date 20 years ahead": (
        http_job("2046-12-02T00:00:00Z"),
        ("schedule",),
        "MAX_SCHEDULE_AHEAD",
    ),
    "a delay of 20 years": (http_job("7300d"), ("schedule",), "MAX_SCHEDULE_AHEAD"),
    "a start_at 20 years ahead": (
        http_job({"every": "1h"}, start_at="7300d"),
        ("start_at",),
        "MAX_SCHEDULE_AHEAD",
    ),
    "a cron of 5,000 items": (
        http_job({"cron": ",".join(str(i % 60) for i in range(5000)) + " * * * *"}),
        ("schedule",),
        "MAX_CRON_LENGTH",
    ),
    "a job timeout of 2 days": (http_job("1h", timeout="2d"), ("timeout",), "MAX_TIMEOUT"),
    "a task timeout of 2 days": (
        {"task": {"uri": "http://127.0.0.1:9/", "timeout": "48h"}, "schedule": "1h"},
        ("task", "timeout"),
        "MAX_TIMEOUT",
    ),
    "a retry delay of 8 days": (
        http_job("1h", retry={"max_attempts": 2, "delay": "8d"}),
        ("retry", "delay"),
        "MAX_RETRY_DELAY",
    ),
    "a retry max_delay of 30 days": (
        http_job("1h", retry={"max_attempts": 2, "max_delay": "30d"}),
        ("retry", "max_delay"),
        "MAX_RETRY_DELAY",
    ),
    "a misfire grace of 8 days": (
        http_job("1h", misfire_grace="8d"),
        ("misfire_grace",),
        "MAX_MISFIRE_GRACE",
    ),
    "a 64 KiB HTTP body": (
        {"task": {"uri": "http://127.0.0.1:9/", "body": BIG}, "schedule": "1h"},
        ("task",),
        "MAX_TASK_BYTES",
    ),
    "a 64 KiB payload": (
        catalog_job("1h", payload={"message": BIG[:9000]} | {"x": BIG}),
        ("payload",),
        None,  # the echo schema refuses the unknown key first, or the size: both name it
    ),
}


def error_at(body, path):
    for key in path:
        assert isinstance(body, dict) and key in body, (path, body)
        body = body[key]
    return str(body)


@pytest.mark.parametrize("case", list(CASES))
def test_an_ordinary_user_past_a_limit_gets_400_naming_the_field_and_limit(api, case):
    body, path, limit = CASES[case]
    response = api.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 400, response.data
    message = error_at(response.json(), path)
    if limit:
        assert limit in message, message
    assert not Job.objects.exists()


def test_a_payload_over_its_size_limit_is_refused_naming_the_limit(api):
    with override_settings(SCHED_LIMITS={**PROD_LIMITS, "MAX_PAYLOAD_BYTES": 100}):
        response = api.post(
            "/api/v1/jobs", catalog_job("1h", payload={"message": "m" * 200}), format="json"
        )
    assert response.status_code == 400
    assert "MAX_PAYLOAD_BYTES" in error_at(response.json(), ("payload",))


@pytest.mark.parametrize(
    "schedule",
    [{"every": "10s"}, {"cron": "*/10 * * * * *"}, {"cron": "* * * * *"}, {"every": "3650d"}],
)
def test_schedules_at_the_limits_are_accepted(api, schedule):
    response = api.post("/api/v1/jobs", http_job(schedule), format="json")
    assert response.status_code == 201, response.data


def test_a_patch_past_a_limit_changes_nothing(api):
    job = api.post("/api/v1/jobs", http_job({"every": "1m"}), format="json").json()
    response = api.patch(f"/api/v1/jobs/{job['id']}", {"schedule": {"every": "1s"}}, format="json")
    assert response.status_code == 400
    assert "MIN_INTERVAL" in error_at(response.json(), ("schedule",))
    assert Job.objects.get(id=job["id"]).schedule == {"kind": "interval", "every": "1m"}


def test_the_preview_holds_an_ordinary_user_to_the_same_limits(api):
    response = api.post(
        "/api/v1/schedules/preview", {"schedule": {"cron": "* * * * * *"}}, format="json"
    )
    assert response.status_code == 400
    assert "MIN_INTERVAL" in error_at(response.json(), ("schedule",))
    long_cron = {"schedule": {"cron": ",".join(str(i % 60) for i in range(5000)) + " * * * *"}}
    response = api.post("/api/v1/schedules/preview", long_cron, format="json")
    assert response.status_code == 400
    assert "MAX_CRON_LENGTH" in error_at(response.json(), ("schedule",))


def test_a_superuser_is_not_held_to_the_fair_use_limits(root):
    response = root.post(
        "/api/v1/jobs",
        http_job({"cron": "* * * * * *"}, timeout="2d", retry={"max_attempts": 2, "delay": "8d"}),
        format="json",
    )
    assert response.status_code == 201, response.data


def test_a_superuser_is_held_to_the_hard_bounds(root):
    response = root.post("/api/v1/jobs", http_job({"every": "999999999d"}), format="json")
    assert response.status_code == 400
    assert "longer than 36500 days" in error_at(response.json(), ("schedule",))
    response = root.post("/api/v1/jobs", http_job("9999-12-31T23:59:59-05:00"), format="json")
    assert response.status_code == 400
    assert "out of range" in error_at(response.json(), ("schedule",))


@pytest.mark.parametrize("max_runs", [2**31, 2**63, 10**30])
def test_a_max_runs_beyond_what_the_column_holds_is_a_400(api, max_runs):
    response = api.post("/api/v1/jobs", http_job({"every": "1h"}, max_runs=max_runs), "json")
    assert response.status_code == 400
    assert "max_runs" in response.json()
