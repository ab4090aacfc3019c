"""Schedules stay inside the range where their arithmetic cannot overflow."""

from datetime import UTC, datetime, timedelta

import pytest

from jobs.schedules import LATEST, Schedule, ScheduleError, parse_schedule

NOW = datetime(2026, 1, 24, 20, 28, 27, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "9999-12-31T23:59:59-05:00",
        "9999-12-31T23:59:59",
        "0001-01-01T00:00:00+05:00",
        "0001-01-01T00:00:00",
        "9000-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
    ],
)
def test_it_refuses_a_date_outside_the_supported_years(text):
    with pytest.raises(ScheduleError, match="out of range: use a time from 1970 to 8999"):
        parse_schedule(text, timezone="America/New_York", now=NOW)


@pytest.mark.parametrize("text", ["999999999d", "PT9999999999999S", "3000000d"])
def test_it_refuses_a_delay_that_ends_past_the_supported_years(text):
    with pytest.raises(ScheduleError, match="too long"):
        parse_schedule(text, now=NOW)


@pytest.mark.parametrize(
    "value",
    [{"every": "999999999d"}, {"every": 1e300}, {"interval": {"weeks": 1e12}}, {"every": "36501d"}],
)
def test_it_refuses_an_interval_longer_than_a_hundred_years(value):
    with pytest.raises(ScheduleError, match="too long|longer than 36500 days"):
        parse_schedule(value, now=NOW)


def test_a_stored_interval_too_long_to_compute_cannot_be_rebuilt():
    with pytest.raises(ScheduleError, match="longer than 36500 days"):
        Schedule.from_json({"kind": "interval", "every": "999999999d"})


def test_a_fire_past_the_supported_years_is_a_schedule_error_not_an_overflow():
    every_century = Schedule(kind="interval", every=timedelta(days=36500))
    anchor = datetime(2000, 1, 1, tzinfo=UTC)
    with pytest.raises(ScheduleError, match="past the year 8999"):
        every_century.next_fire(LATEST - timedelta(days=1), anchor=anchor)
    daily = parse_schedule({"cron": "@daily"}, now=NOW)
    with pytest.raises(ScheduleError, match="past the year 8999"):
        daily.next_fire(LATEST - timedelta(hours=1))
