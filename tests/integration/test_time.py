"""The dispatcher fires at the times `upcoming` shows, across DST changes and with seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils.dateparse import parse_datetime

from jobs import dispatch
from jobs.models import Job, Trigger

from .helpers import TARGET

pytestmark = pytest.mark.django_db


def _fire_through(job_id, times: list[datetime]) -> list[datetime]:
    """Let the dispatcher plan each fire at its due time; return the due times it planned."""
    for moment in times:
        dispatch.plan_due_fires(moment)
    job = Job.objects.get(id=job_id)
    return sorted(run.due_at for run in job.runs.filter(trigger=Trigger.SCHEDULE))


@pytest.mark.parametrize(
    "cron, zone, start, expected",
    [
        # New York, spring forward 2030-03-10 02:00 -> 03:00: 02:30 runs once at 03:00 EDT.
        (
            "30 2 * * *",
            "America/New_York",
            "2030-03-09T00:00:00Z",
            ["2030-03-09T07:30:00Z", "2030-03-10T07:00:00Z", "2030-03-11T06:30:00Z"],
        ),
        # New York, fall back 2030-11-03 02:00 -> 01:00: 01:30 runs once, the first time.
        (
            "30 1 * * *",
            "America/New_York",
            "2030-11-02T00:00:00Z",
            ["2030-11-02T05:30:00Z", "2030-11-03T05:30:00Z", "2030-11-04T06:30:00Z"],
        ),
        # Berlin, spring forward 2030-03-31 02:00 -> 03:00.
        (
            "15 2 * * *",
            "Europe/Berlin",
            "2030-03-30T00:00:00Z",
            ["2030-03-30T01:15:00Z", "2030-03-31T01:00:00Z", "2030-04-01T00:15:00Z"],
        ),
        # Lord Howe shifts by 30 minutes: 2030-10-06 02:00 -> 02:30 (UTC+10:30 -> +11).
        (
            "15 2 * * *",
            "Australia/Lord_Howe",
            "2030-10-04T00:00:00Z",
            ["2030-10-04T15:45:00Z", "2030-10-05T15:30:00Z", "2030-10-06T15:15:00Z"],
        ),
    ],
)
def test_cron_in_a_zone_fires_when_upcoming_said(api, broker, cron, zone, start, expected):
    job = api.post(
        "/api/v1/jobs",
        {
            "task": {"uri": TARGET},
            "schedule": {"cron": cron},
            "timezone": zone,
            "start_at": start,
            "misfire_grace": "1m",
        },
        format="json",
    ).json()
    shown = api.get(f"/api/v1/jobs/{job['id']}/upcoming?count=3").json()["upcoming"]
    assert shown == expected
    planned = _fire_through(job["id"], [parse_datetime(t) for t in shown])
    assert [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in planned] == expected


def test_cron_with_seconds_fires_every_ten_seconds(api, broker):
    job = api.post(
        "/api/v1/jobs",
        {
            "task": {"uri": TARGET},
            "schedule": {"cron": "*/10 * * * * *"},
            "start_at": "2030-01-01T00:00:05Z",
        },
        format="json",
    ).json()
    shown = [
        parse_datetime(t)
        for t in api.get(f"/api/v1/jobs/{job['id']}/upcoming?count=4").json()["upcoming"]
    ]
    assert [t.second for t in shown] == [10, 20, 30, 40]
    assert _fire_through(job["id"], shown) == shown


def test_an_interval_keeps_its_elapsed_period_across_dst(api, broker):
    # Every 6 hours from just before the New York spring-forward: always 6 h apart in UTC.
    job = api.post(
        "/api/v1/jobs",
        {
            "task": {"uri": TARGET},
            "schedule": {"every": "6h"},
            "timezone": "America/New_York",
            "start_at": "2030-03-10T00:00:00-05:00",
        },
        format="json",
    ).json()
    shown = [
        parse_datetime(t)
        for t in api.get(f"/api/v1/jobs/{job['id']}/upcoming?count=4").json()["upcoming"]
    ]
    assert [b - a for a, b in zip(shown, shown[1:], strict=False)] == [timedelta(hours=6)] * 3
    assert shown[0] == datetime(2030, 3, 10, 5, tzinfo=UTC)
    assert _fire_through(job["id"], shown) == shown
