from datetime import UTC, datetime, timedelta, timezone

import pytest

from jobs.schedules import Schedule, ScheduleError, close_zones, get_zone, parse_schedule

NOW = datetime(2026, 1, 24, 20, 28, 27, tzinfo=UTC)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def cron(expr, tz="UTC"):
    return parse_schedule({"cron": expr}, timezone=tz, now=NOW)


def fires(schedule, after, count, anchor=None):
    return schedule.upcoming(after=after, anchor=anchor, count=count)


# --- time zones -------------------------------------------------------------


def test_it_returns_a_zone_for_an_iana_name():
    assert get_zone("America/New_York").key == "America/New_York"


@pytest.mark.parametrize("name", ["Mars/Base", "", "../etc/passwd", "localtime", "utc "])
def test_it_rejects_unknown_timezone(name):
    with pytest.raises(ScheduleError, match=f"unknown time zone '{name}'"):
        get_zone(name)


@pytest.mark.parametrize(
    "name, close",
    [
        ("europe/paris", ["Europe/Paris"]),  # case
        ("utc ", ["UTC"]),
        ("new york", ["America/New_York"]),  # the city, with a space
        ("Kolkata", ["Asia/Kolkata"]),
        ("Europe/Pari", ["Europe/Paris", "Europe/Madrid", "Europe/Riga"]),  # a typo
        ("Mars/Base", []),
        ("", []),
        ("x" * 1000, []),
    ],
)
def test_close_zones_are_suggested(name, close):
    assert close_zones(name) == close


def test_the_error_of_an_unknown_zone_suggests_the_close_ones():
    with pytest.raises(ScheduleError) as raised:
        get_zone("Europe/Pari")
    assert str(raised.value) == (
        "unknown time zone 'Europe/Pari': did you mean 'Europe/Paris', 'Europe/Madrid' or "
        "'Europe/Riga'?"
    )
    with pytest.raises(ScheduleError, match=r"'Mars/Base' \(an IANA name, e.g. 'Europe/Paris'\)"):
        get_zone("Mars/Base")


@pytest.mark.parametrize("name", [None, 5, ["UTC"]])
def test_it_rejects_a_timezone_that_is_not_a_string(name):
    with pytest.raises(ScheduleError, match="unknown time zone"):
        get_zone(name)


def test_parse_schedule_rejects_an_unknown_timezone():
    with pytest.raises(ScheduleError, match="unknown time zone 'Mars/Base'"):
        parse_schedule("now", timezone="Mars/Base", now=NOW)


# --- one-off forms ----------------------------------------------------------


@pytest.mark.parametrize("text", ["now", "NOW", " Now "])
def test_now_means_once_at_now(text):
    schedule = parse_schedule(text, now=NOW)
    assert (schedule.kind, schedule.at, schedule.recurring) == ("once", NOW, False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-24T12:28:27-08:00", utc(2026, 1, 24, 20, 28, 27)),
        ("2026-01-24T20:28:27Z", utc(2026, 1, 24, 20, 28, 27)),
        ("2026-01-24T20:28:27+00:00", utc(2026, 1, 24, 20, 28, 27)),
    ],
)
def test_it_parses_an_iso_datetime_with_an_offset(text, expected):
    schedule = parse_schedule(text, timezone="Asia/Tokyo", now=NOW)
    assert schedule.at == expected
    assert schedule.at.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-24T12:28:27", utc(2026, 1, 24, 17, 28, 27)),
        ("2026-01-24 12:28", utc(2026, 1, 24, 17, 28)),
        ("2026-07-04T09:00:00", utc(2026, 7, 4, 13, 0)),
    ],
)
def test_it_reads_a_naive_datetime_in_the_schedule_timezone(text, expected):
    assert parse_schedule(text, timezone="America/New_York", now=NOW).at == expected


def test_a_naive_datetime_in_a_dst_gap_moves_to_the_end_of_the_gap():
    schedule = parse_schedule("2026-03-08T02:30:00", timezone="America/New_York", now=NOW)
    assert schedule.at == utc(2026, 3, 8, 7, 0)  # 03:00 EDT


def test_a_naive_datetime_in_a_dst_overlap_takes_the_first_occurrence():
    schedule = parse_schedule("2026-11-01T01:30:00", timezone="America/New_York", now=NOW)
    assert schedule.at == utc(2026, 11, 1, 5, 30)  # 01:30 EDT, not EST


def test_a_naive_datetime_in_a_half_hour_gap_moves_to_the_end_of_the_gap():
    schedule = parse_schedule("2026-10-04T02:10:00", timezone="Australia/Lord_Howe", now=NOW)
    assert schedule.at == utc(2026, 10, 3, 15, 30)  # 02:30 +11:00


def test_a_past_datetime_is_kept_so_the_caller_can_run_it_at_once():
    schedule = parse_schedule("2020-01-01T00:00:00Z", now=NOW)
    assert schedule.first_fire(now=NOW) == utc(2020, 1, 1)


@pytest.mark.parametrize("text", ["2026-02-30T10:00:00", "2026-01-24T24:00:00", "2026-13-01 10:00"])
def test_it_rejects_impossible_dates(text):
    with pytest.raises(ScheduleError, match="is not a valid date-time"):
        parse_schedule(text, now=NOW)


@pytest.mark.parametrize(
    ("text", "delay"),
    [
        ("30s", timedelta(seconds=30)),
        ("2m", timedelta(minutes=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("4d", timedelta(days=4)),
        ("in 2m", timedelta(minutes=2)),
        ("PT90S", timedelta(seconds=90)),
    ],
)
def test_a_delay_means_once_after_that_delay(text, delay):
    schedule = parse_schedule(text, now=NOW)
    assert (schedule.kind, schedule.at) == ("once", NOW + delay)


@pytest.mark.parametrize("text", ["0s", "in 0m", "PT0S"])
def test_it_rejects_a_zero_delay(text):
    with pytest.raises(ScheduleError, match="must be greater than zero"):
        parse_schedule(text, now=NOW)


# --- intervals --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "every"),
    [
        ({"every": "10m"}, timedelta(minutes=10)),
        ({"every": "1h30m"}, timedelta(hours=1, minutes=30)),
        ({"every": 45}, timedelta(seconds=45)),
        ({"every": 0.5}, timedelta(milliseconds=500)),
        ({"interval": {"seconds": 30}}, timedelta(seconds=30)),
        (
            {"interval": {"weeks": 0, "days": 1, "hours": 2, "minutes": 3, "seconds": 4}},
            timedelta(days=1, hours=2, minutes=3, seconds=4),
        ),
        ({"interval": {"hours": 1.5}}, timedelta(minutes=90)),
    ],
)
def test_it_parses_intervals(value, every):
    schedule = parse_schedule(value, now=NOW)
    assert (schedule.kind, schedule.every, schedule.recurring) == ("interval", every, True)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"every": "0s"}, "greater than zero"),
        ({"every": 0}, "greater than zero"),
        ({"every": "soon"}, "is not a duration"),
        ({"every": True}, '"every" must be a duration'),
        ({"every": None}, '"every" must be a duration'),
        ({"interval": {}}, "greater than zero"),
        ({"interval": {"seconds": 0, "minutes": 0}}, "greater than zero"),
        ({"interval": {"fortnights": 1}}, "unknown interval key 'fortnights'"),
        ({"interval": {"seconds": "30"}}, 'interval "seconds" must be a number'),
        ({"interval": {"seconds": True}}, 'interval "seconds" must be a number'),
        ({"interval": {"seconds": -5}}, 'interval "seconds" must be a number of at least 0'),
        ({"interval": {"seconds": float("nan")}}, 'interval "seconds" must be a number'),
        ({"interval": "30s"}, '"interval" must be an object'),
        ({"interval": {"days": 10**12}}, "too long"),
    ],
)
def test_it_rejects_bad_intervals(value, message):
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(value, now=NOW)


def test_interval_first_fire_is_one_period_from_now_or_start_at():
    schedule = parse_schedule({"every": "10m"}, now=NOW)
    assert schedule.first_fire(now=NOW) == NOW + timedelta(minutes=10)
    start = utc(2026, 2, 1, 9, 0)
    assert schedule.first_fire(now=NOW, start_at=start) == start


def test_interval_next_fire_stays_on_the_anchor_grid():
    schedule = parse_schedule({"every": "10m"}, now=NOW)
    anchor = utc(2026, 1, 1, 0, 0)
    assert schedule.next_fire(utc(2026, 1, 1, 0, 0), anchor=anchor) == utc(2026, 1, 1, 0, 10)
    assert schedule.next_fire(utc(2026, 1, 1, 0, 37), anchor=anchor) == utc(2026, 1, 1, 0, 40)
    assert schedule.next_fire(utc(2025, 12, 1), anchor=anchor) == anchor


def test_interval_next_fire_needs_an_anchor():
    schedule = parse_schedule({"every": "10m"}, now=NOW)
    with pytest.raises(ValueError):
        schedule.next_fire(NOW)


def test_interval_across_a_dst_change_keeps_the_elapsed_period():
    schedule = parse_schedule({"every": "1h"}, timezone="America/New_York", now=NOW)
    anchor = utc(2026, 3, 8, 5, 0)  # 00:00 EST
    assert fires(schedule, anchor, 4, anchor=anchor) == [
        utc(2026, 3, 8, 6, 0),  # 01:00 EST
        utc(2026, 3, 8, 7, 0),  # 03:00 EDT: one hour later, the wall clock jumped
        utc(2026, 3, 8, 8, 0),
        utc(2026, 3, 8, 9, 0),
    ]


def test_interval_last_fire_at_or_before_collapses_missed_fires():
    schedule = parse_schedule({"every": "10m"}, now=NOW)
    anchor = utc(2026, 1, 1)
    moment = utc(2026, 1, 31, 12, 34, 56)
    assert schedule.last_fire_at_or_before(moment, anchor=anchor) == utc(2026, 1, 31, 12, 30)
    assert schedule.last_fire_at_or_before(utc(2026, 1, 1, 0, 10), anchor=anchor) == utc(
        2026, 1, 1, 0, 10
    )
    assert schedule.last_fire_at_or_before(utc(2025, 12, 31), anchor=anchor) is None


# --- cron -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "normalized"),
    [
        ("*/5 * * * *", "*/5 * * * *"),
        ("  0   2  * *   MON ", "0 2 * * MON"),
        ("*/10 * * * * *", "*/10 * * * * *"),
        ("@Daily", "@daily"),
        ("0 0 L * *", "0 0 L * *"),
        ("0 0 29 2 *", "0 0 29 2 *"),
    ],
)
def test_it_normalizes_cron_whitespace_and_macros(expr, normalized):
    assert cron(expr).cron == normalized


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("61 * * * *", "is not a valid cron expression"),
        ("* * *", "has 3 fields"),
        ("* * * * * * *", "has 7 fields"),
        ("", "has 0 fields"),
        ("*/0 * * * *", "step '/0' of the minute field must be from 1 to 59"),
        ("*/100 * * * *", "step '/100' of the minute field must be from 1 to 59"),
        ("*/99999999999999999999 * * * *", "of the minute field must be from 1 to 59"),
        ("0 */24 * * *", "step '/24' of the hour field must be from 1 to 23"),
        ("*/60 * * * * *", "step '/60' of the second field"),
        ("0 0 * * */7", "step '/7' of the day of week field must be from 1 to 6"),
        ("H * * * *", "is not a valid cron expression"),
        ("R * * * *", "is not a valid cron expression"),
        ("@sometimes", "unknown cron macro '@sometimes'"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4 *", "never fires"),
    ],
)
def test_it_rejects_invalid_cron(expr, message):
    with pytest.raises(ScheduleError, match=message):
        cron(expr)


def test_it_rejects_a_cron_that_is_not_a_string():
    with pytest.raises(ScheduleError, match='"cron" must be a string'):
        parse_schedule({"cron": 5}, now=NOW)


def test_cron_next_fire_is_strictly_after():
    schedule = cron("*/5 * * * *")
    assert schedule.next_fire(utc(2026, 1, 1, 0, 0)) == utc(2026, 1, 1, 0, 5)
    assert schedule.next_fire(utc(2026, 1, 1, 0, 4, 59, 999999)) == utc(2026, 1, 1, 0, 5)


def test_cron_with_six_fields_reads_seconds_first():
    schedule = cron("*/10 * * * * *")
    assert fires(schedule, utc(2026, 1, 1), 3) == [
        utc(2026, 1, 1, 0, 0, 10),
        utc(2026, 1, 1, 0, 0, 20),
        utc(2026, 1, 1, 0, 0, 30),
    ]
    assert cron("15 30 2 * * *").next_fire(utc(2026, 1, 1)) == utc(2026, 1, 1, 2, 30, 15)


@pytest.mark.parametrize(
    ("macro", "expected"),
    [
        ("@hourly", utc(2026, 1, 1, 1, 0)),
        ("@daily", utc(2026, 1, 2)),
        ("@midnight", utc(2026, 1, 2)),
        ("@weekly", utc(2026, 1, 4)),  # Sunday
        ("@monthly", utc(2026, 2, 1)),
        ("@yearly", utc(2027, 1, 1)),
        ("@annually", utc(2027, 1, 1)),
    ],
)
def test_cron_macros_fire_like_their_expansions(macro, expected):
    assert cron(macro).next_fire(utc(2026, 1, 1)) == expected


def test_cron_runs_in_the_schedule_timezone():
    schedule = cron("30 9 * * *", "Asia/Kolkata")
    assert schedule.next_fire(utc(2026, 1, 1)) == utc(2026, 1, 1, 4, 0)


def test_cron_first_fire_is_strictly_after_now():
    schedule = cron("*/5 * * * *")
    assert schedule.first_fire(now=utc(2026, 1, 1, 0, 5)) == utc(2026, 1, 1, 0, 10)


def test_cron_first_fire_may_equal_a_future_start_at():
    schedule = cron("*/5 * * * *")
    now = utc(2026, 1, 1)
    assert schedule.first_fire(now=now, start_at=utc(2026, 1, 2, 0, 5)) == utc(2026, 1, 2, 0, 5)
    assert schedule.first_fire(now=now, start_at=utc(2026, 1, 2, 0, 6)) == utc(2026, 1, 2, 0, 10)


def test_cron_first_fire_ignores_a_past_start_at():
    schedule = cron("*/5 * * * *")
    now = utc(2026, 1, 1, 0, 1)
    assert schedule.first_fire(now=now, start_at=utc(2025, 1, 1)) == utc(2026, 1, 1, 0, 5)


def test_cron_last_fire_at_or_before_is_inclusive():
    schedule = cron("0 * * * *")
    assert schedule.last_fire_at_or_before(utc(2026, 1, 1, 5, 0)) == utc(2026, 1, 1, 5, 0)
    assert schedule.last_fire_at_or_before(utc(2026, 1, 1, 5, 59, 59)) == utc(2026, 1, 1, 5, 0)


def test_cron_last_fire_at_or_before_jumps_over_a_long_downtime():
    schedule = cron("*/10 * * * * *")
    moment = utc(2026, 6, 1, 12, 0, 7)
    assert schedule.last_fire_at_or_before(moment) == utc(2026, 6, 1, 12, 0, 0)


# --- cron across DST: America/New_York ---------------------------------------


def test_a_cron_time_in_the_spring_gap_runs_at_the_end_of_the_gap():
    schedule = cron("30 2 * * *", "America/New_York")
    assert fires(schedule, utc(2026, 3, 7), 3) == [
        utc(2026, 3, 7, 7, 30),  # 02:30 EST
        utc(2026, 3, 8, 7, 0),  # 02:30 does not exist: 03:00 EDT
        utc(2026, 3, 9, 6, 30),  # 02:30 EDT
    ]


def test_frequent_cron_fires_once_for_the_whole_spring_gap():
    schedule = cron("*/15 * * * *", "America/New_York")
    assert fires(schedule, utc(2026, 3, 8, 6, 30), 4) == [
        utc(2026, 3, 8, 6, 45),  # 01:45 EST
        utc(2026, 3, 8, 7, 0),  # 02:00..02:45 collapse into 03:00 EDT
        utc(2026, 3, 8, 7, 15),  # 03:15 EDT
        utc(2026, 3, 8, 7, 30),
    ]


def test_a_repeated_cron_time_in_the_fall_runs_only_at_its_first_occurrence():
    schedule = cron("30 1 * * *", "America/New_York")
    assert fires(schedule, utc(2026, 10, 31), 3) == [
        utc(2026, 10, 31, 5, 30),
        utc(2026, 11, 1, 5, 30),  # 01:30 EDT; 01:30 EST is skipped
        utc(2026, 11, 2, 6, 30),  # 01:30 EST
    ]


def test_hourly_cron_skips_the_repeated_hour_in_the_fall():
    schedule = cron("0 * * * *", "America/New_York")
    assert fires(schedule, utc(2026, 11, 1, 4, 30), 3) == [
        utc(2026, 11, 1, 5, 0),  # 01:00 EDT
        utc(2026, 11, 1, 7, 0),  # 02:00 EST; 01:00 EST is skipped
        utc(2026, 11, 1, 8, 0),
    ]


def test_next_fire_from_inside_the_repeated_hour_waits_for_its_end():
    schedule = cron("*/20 * * * *", "America/New_York")
    after = utc(2026, 11, 1, 6, 10)  # 01:10 EST, the second pass
    assert schedule.next_fire(after) == utc(2026, 11, 1, 7, 0)


def test_last_fire_from_inside_the_repeated_hour_is_the_first_pass():
    schedule = cron("*/20 * * * *", "America/New_York")
    moment = utc(2026, 11, 1, 6, 59, 59)  # 01:59:59 EST
    assert schedule.last_fire_at_or_before(moment) == utc(2026, 11, 1, 5, 40)  # 01:40 EDT


def test_last_fire_after_the_spring_gap_is_the_end_of_the_gap():
    schedule = cron("30 2 * * *", "America/New_York")
    moment = utc(2026, 3, 8, 7, 10)  # 03:10 EDT
    assert schedule.last_fire_at_or_before(moment) == utc(2026, 3, 8, 7, 0)


# --- cron across DST: Europe/Berlin -----------------------------------------


def test_berlin_spring_gap_runs_at_three_oclock_summer_time():
    schedule = cron("30 2 * * *", "Europe/Berlin")
    assert fires(schedule, utc(2026, 3, 28), 3) == [
        utc(2026, 3, 28, 1, 30),  # 02:30 CET
        utc(2026, 3, 29, 1, 0),  # 03:00 CEST
        utc(2026, 3, 30, 0, 30),  # 02:30 CEST
    ]


def test_berlin_fall_overlap_runs_once_in_summer_time():
    schedule = cron("30 2 * * *", "Europe/Berlin")
    assert fires(schedule, utc(2026, 10, 24), 3) == [
        utc(2026, 10, 24, 0, 30),
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST; 02:30 CET is skipped
        utc(2026, 10, 26, 1, 30),
    ]


# --- cron across DST: Australia/Lord_Howe (30-minute shift) -------------------


def test_lord_howe_half_hour_gap_runs_at_the_end_of_the_gap():
    schedule = cron("15 2 * * *", "Australia/Lord_Howe")
    assert fires(schedule, utc(2026, 10, 2), 3) == [
        utc(2026, 10, 2, 15, 45),  # 02:15 +10:30
        utc(2026, 10, 3, 15, 30),  # 02:15 does not exist: 02:30 +11:00
        utc(2026, 10, 4, 15, 15),  # 02:15 +11:00
    ]


def test_lord_howe_frequent_cron_collapses_the_gap():
    schedule = cron("*/10 * * * *", "Australia/Lord_Howe")
    assert fires(schedule, utc(2026, 10, 3, 15, 0), 5) == [
        utc(2026, 10, 3, 15, 10),  # 01:40 +10:30
        utc(2026, 10, 3, 15, 20),  # 01:50 +10:30
        utc(2026, 10, 3, 15, 30),  # 02:00..02:30 all land on 02:30 +11:00
        utc(2026, 10, 3, 15, 40),  # 02:40 +11:00
        utc(2026, 10, 3, 15, 50),
    ]


def test_lord_howe_half_hour_overlap_skips_the_second_pass():
    schedule = cron("*/10 * * * *", "Australia/Lord_Howe")
    assert fires(schedule, utc(2026, 4, 4, 14, 20), 5) == [
        utc(2026, 4, 4, 14, 30),  # 01:30 +11:00
        utc(2026, 4, 4, 14, 40),
        utc(2026, 4, 4, 14, 50),  # 01:50 +11:00; then 01:30..01:50 +10:30 are skipped
        utc(2026, 4, 4, 15, 30),  # 02:00 +10:30
        utc(2026, 4, 4, 15, 40),
    ]


# --- upcoming ---------------------------------------------------------------


def test_upcoming_stops_at_end_at_inclusive():
    schedule = cron("0 * * * *")
    result = schedule.upcoming(after=utc(2026, 1, 1), end_at=utc(2026, 1, 1, 3, 0))
    assert result == [utc(2026, 1, 1, 1), utc(2026, 1, 1, 2), utc(2026, 1, 1, 3)]


def test_upcoming_stops_after_remaining_fires():
    schedule = parse_schedule({"every": "10m"}, now=NOW)
    result = schedule.upcoming(after=NOW, anchor=NOW, count=10, remaining=2)
    assert result == [NOW + timedelta(minutes=10), NOW + timedelta(minutes=20)]


def test_upcoming_returns_count_fires():
    assert len(cron("* * * * *").upcoming(after=NOW, count=25)) == 25


def test_upcoming_for_once_is_the_single_future_fire():
    schedule = parse_schedule("30s", now=NOW)
    assert schedule.upcoming(after=NOW) == [NOW + timedelta(seconds=30)]
    assert schedule.upcoming(after=NOW + timedelta(minutes=1)) == []
    assert schedule.upcoming(after=NOW, remaining=0) == []


def test_once_has_no_next_fire():
    schedule = parse_schedule("30s", now=NOW)
    assert schedule.next_fire(NOW) is None
    assert schedule.last_fire_at_or_before(NOW) is None
    assert schedule.last_fire_at_or_before(NOW + timedelta(hours=1)) == schedule.at


# --- describe ---------------------------------------------------------------


def test_describe_once_shows_the_time_in_the_job_zone():
    assert parse_schedule("now", now=NOW).describe() == "once at 2026-01-24 20:28:27 UTC"
    schedule = parse_schedule("now", timezone="America/New_York", now=NOW)
    assert schedule.describe() == "once at 2026-01-24 15:28:27 America/New_York"


@pytest.mark.parametrize(
    ("every", "text"),
    [("10m", "every 10 minutes"), ("1h30m", "every 1 hour 30 minutes"), ("1s", "every 1 second")],
)
def test_describe_interval_in_words(every, text):
    assert parse_schedule({"every": every}, now=NOW).describe() == text


def test_describe_cron_uses_cron_descriptor_and_names_the_zone():
    assert "5 minutes" in cron("*/5 * * * *").describe()
    assert cron("*/5 * * * *").describe().endswith("(UTC)")
    text = cron("30 2 * * *", "America/New_York").describe()
    assert "02:30" in text and text.endswith("(America/New_York)")


def test_describe_cron_with_seconds_mentions_seconds():
    assert "10 seconds" in cron("*/10 * * * * *").describe()
    assert "02:30:15" in cron("15 30 2 * * *").describe()


def test_describe_cron_macro_is_in_words():
    assert "12:00" in cron("@daily").describe()


# --- json -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("2026-01-24T20:28:27Z", {"kind": "once", "at": "2026-01-24T20:28:27Z"}),
        ({"every": "10m"}, {"kind": "interval", "every": "10m"}),
        ({"interval": {"hours": 1, "minutes": 30}}, {"kind": "interval", "every": "1h30m"}),
        ({"every": 1.5}, {"kind": "interval", "every": "1.5s"}),
        ({"cron": "*/5  * * * *"}, {"kind": "cron", "cron": "*/5 * * * *"}),
        ({"cron": "@DAILY"}, {"kind": "cron", "cron": "@daily"}),
    ],
)
def test_to_json_and_from_json_round_trip(value, stored):
    schedule = parse_schedule(value, timezone="Europe/Berlin", now=NOW)
    assert schedule.to_json() == stored
    assert Schedule.from_json(stored, timezone="Europe/Berlin") == schedule


def test_to_json_keeps_microseconds_of_now():
    now = NOW.replace(microsecond=123456)
    stored = parse_schedule("now", now=now).to_json()
    assert stored == {"kind": "once", "at": "2026-01-24T20:28:27.123456Z"}
    assert Schedule.from_json(stored).at == now


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {},
        {"kind": "weekly"},
        {"kind": "once"},
        {"kind": "once", "at": "yesterday"},
        {"kind": "once", "at": "2026-01-24T20:28:27"},
        {"kind": "interval", "every": "0s"},
        {"kind": "cron", "cron": "61 * * * *"},
    ],
)
def test_from_json_rejects_bad_stored_data(data):
    with pytest.raises(ScheduleError):
        Schedule.from_json(data)


# --- generic rejections -----------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["", "   ", "tomorrow", "30", [], ["now"], 30, 1.5, True, None, {}],
)
def test_it_rejects_other_values_naming_the_accepted_forms(value):
    with pytest.raises(ScheduleError, match=r'use "now", an ISO 8601 date-time, a delay like'):
        parse_schedule(value, now=NOW)


@pytest.mark.parametrize(
    "value",
    [{"every": "10m", "cron": "* * * * *"}, {"weekly": "monday"}, {"at": "now"}],
)
def test_it_rejects_objects_without_exactly_one_known_key(value):
    with pytest.raises(ScheduleError, match='"every", "interval" or "cron"|unknown schedule key'):
        parse_schedule(value, now=NOW)


def test_schedule_errors_are_value_errors():
    assert issubclass(ScheduleError, ValueError)


# --- naive inputs are programming errors ------------------------------------


def test_it_refuses_a_naive_now():
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_schedule("now", now=datetime(2026, 1, 1))


def test_it_refuses_naive_datetimes_in_methods():
    schedule = cron("* * * * *")
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule.next_fire(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule.last_fire_at_or_before(datetime(2026, 1, 1))


def test_returned_datetimes_are_utc():
    schedule = cron("0 9 * * *", "Asia/Tokyo")
    after = datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=5)))
    assert schedule.next_fire(after).tzinfo is UTC
