"""The next fire of a Job row: the parsed schedule is shared, never stale."""

from datetime import UTC, datetime, timedelta

import pytest

from jobs.models import Job
from jobs.schedules import ScheduleError
from jobs.timing import following_fire, schedule_of

NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def job(schedule: dict, tz: str = "UTC", **extra) -> Job:
    kind = schedule["kind"]
    return Job(schedule=schedule, schedule_kind=kind, timezone=tz, **extra)


def test_the_same_schedule_in_two_zones_fires_at_two_instants():
    daily = {"kind": "cron", "cron": "0 9 * * *"}
    assert following_fire(job(daily), NOW) == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    paris = following_fire(job(dict(daily), "Europe/Paris"), NOW)
    assert paris == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert following_fire(job(daily), NOW) == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_changed_schedule_is_read_anew():
    row = job({"kind": "interval", "every": "10s"}, anchor_at=NOW)
    assert following_fire(row, NOW) == NOW + timedelta(seconds=10)
    row.schedule = {"kind": "interval", "every": "1m"}  # a reschedule, saved and read back
    assert following_fire(row, NOW) == NOW + timedelta(minutes=1)
    row.timezone = "Asia/Tokyo"
    assert schedule_of(row).timezone == "Asia/Tokyo"


def test_jobs_with_the_same_schedule_share_one_parsed_schedule():
    every = {"kind": "interval", "every": "5m"}
    assert schedule_of(job(every)) is schedule_of(job(dict(every)))


def test_a_broken_stored_schedule_still_raises_every_time():
    broken = job({"kind": "cron", "cron": "not cron"})
    for _ in range(2):
        with pytest.raises(ScheduleError):
            schedule_of(broken)
