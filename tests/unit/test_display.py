"""How the admin shows durations, times and states (jobs/display.py)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from jobs.display import badge, colour, elapsed, name, short, show_duration, show_time, time_cell


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (timedelta(0), "0 ms"),
        (timedelta(milliseconds=250), "250 ms"),
        (timedelta(milliseconds=999.4), "999 ms"),
        (timedelta(milliseconds=999.6), "999 ms"),
        (timedelta(seconds=1), "1.0 s"),
        (timedelta(seconds=1.234), "1.2 s"),
        (timedelta(seconds=9.96), "9.9 s"),
        (timedelta(seconds=10), "10 s"),
        (timedelta(seconds=42.9), "42 s"),
        (timedelta(seconds=60), "1 min"),
        (timedelta(minutes=3, seconds=4.7), "3 min 4 s"),
        (timedelta(hours=2, minutes=5, seconds=59), "2 h 5 min"),
        (timedelta(hours=3, seconds=5), "3 h"),
        (timedelta(days=3, hours=4, minutes=1), "3 d 4 h"),
        (timedelta(seconds=-1.5), "-1.5 s"),
        (None, "-"),
    ],
)
def test_it_shows_a_duration_as_people_read_it(value, shown):
    assert show_duration(value) == shown


def test_elapsed_is_from_start_to_finish_and_nothing_until_finished():
    start = datetime(2026, 12, 2, 11, 5, 3, tzinfo=UTC)
    assert elapsed(start, start + timedelta(minutes=3, seconds=4)) == "3 min 4 s"
    assert elapsed(start, None) == "-"
    assert elapsed(None, None) == "-"


def test_a_time_is_shown_to_the_second_with_its_zone():
    moment = datetime(2026, 12, 2, 11, 5, 3, 900_000, tzinfo=UTC)
    assert show_time(moment) == "2026-12-02 11:05:03 UTC"
    with override_settings(TIME_ZONE="Europe/Berlin"):
        assert show_time(moment) == "2026-12-02 12:05:03 CET"
    assert show_time(None) == "-"


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("succeeded", "green"),
        ("ok", "green"),
        ("delivered", "green"),
        ("failed", "red"),
        ("timed_out", "red"),
        ("lost", "red"),
        ("failing", "red"),
        ("vetoed", "red"),
        ("running", "amber"),
        ("paused", "amber"),
        ("skipped", "amber"),
        ("missed", "amber"),
        ("pending", "grey"),
        ("scheduled", "grey"),
        ("canceled", "grey"),
        ("unknown", "grey"),
    ],
)
def test_a_state_has_the_colour_of_what_it_says(word, expected):
    assert colour(word) == expected


def test_a_badge_escapes_what_it_shows():
    html = badge("failed", "failed <500>", title='say "no"')
    assert html == (
        '<span class="sched-badge sched-red" title="say &quot;no&quot;">failed &lt;500&gt;</span>'
    )


def test_a_long_value_is_cut_with_the_whole_of_it_in_the_tooltip():
    assert short("abc", 5) == "abc"
    assert short("<script>", 20) == "&lt;script&gt;"
    assert short("0123456789abcdef", 9) == '<span title="0123456789abcdef">01234567…</span>'


def test_a_time_in_a_cell_may_wrap_between_its_date_and_its_time_only():
    moment = datetime(2026, 12, 2, 11, 5, 3, tzinfo=UTC)
    assert time_cell(moment) == (
        '<span class="sched-nowrap">2026-12-02</span> '
        '<span class="sched-nowrap">11:05:03 UTC</span>'
    )
    assert time_cell(None) == '<span class="sched-nowrap">-</span>'


def test_a_name_is_cut_by_count_and_by_width_with_the_whole_in_the_tooltip():
    assert name("nightly-backup") == (
        '<span class="sched-name" title="nightly-backup">nightly-backup</span>'
    )
    assert name("x" * 30, tip="all of it", length=10, narrow=True) == (
        '<span class="sched-name sched-narrow" title="all of it">xxxxxxxxx…</span>'
    )
