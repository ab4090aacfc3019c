from datetime import timedelta

import pytest

from jobs.durations import describe_duration, format_duration, parse_duration


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("2m", timedelta(minutes=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("4d", timedelta(days=4)),
        ("1w", timedelta(weeks=1)),
        ("500ms", timedelta(milliseconds=500)),
        ("1.5s", timedelta(seconds=1.5)),
        ("in 2m", timedelta(minutes=2)),
        ("  1H30M ", timedelta(hours=1, minutes=30)),
        ("PT90S", timedelta(seconds=90)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("pt1.5s", timedelta(seconds=1.5)),
        ("P1W", timedelta(weeks=1)),
        (30, timedelta(seconds=30)),
        (1.5, timedelta(seconds=1.5)),
        (0, timedelta(0)),
        ("0s", timedelta(0)),
        (timedelta(minutes=5), timedelta(minutes=5)),
    ],
)
def test_it_parses_every_accepted_form(value, expected):
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    "value",
    ["abc", "", "30", "1h30", "-5s", "2xx", "5 minutes", "in ", "PT", "P1D junk", [], None],
)
def test_it_rejects_garbage_with_a_hint(value):
    with pytest.raises(ValueError, match="is not a duration: use 30s, 1h30m, 4d or ISO 8601"):
        parse_duration(value)


def test_it_names_the_bad_value_in_the_message():
    with pytest.raises(ValueError, match=r"^'abc' is not a duration"):
        parse_duration("abc")


def test_it_rejects_bool_even_though_bool_is_an_int():
    with pytest.raises(ValueError):
        parse_duration(True)


@pytest.mark.parametrize("value", ["P1Y", "P2M", "P1Y2M3D"])
def test_it_rejects_iso_years_and_months_as_ambiguous(value):
    with pytest.raises(ValueError, match="no fixed length"):
        parse_duration(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e30])
def test_it_rejects_non_finite_and_huge_numbers(value):
    with pytest.raises(ValueError):
        parse_duration(value)


def test_it_rejects_negative_numbers():
    with pytest.raises(ValueError, match="must not be negative"):
        parse_duration(-1)


@pytest.mark.parametrize("value", ["0s", 0, "PT0S", -3])
def test_positive_makes_zero_and_negative_an_error(value):
    with pytest.raises(ValueError, match="must be greater than zero"):
        parse_duration(value, positive=True)


def test_positive_accepts_a_positive_duration():
    assert parse_duration("1s", positive=True) == timedelta(seconds=1)


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(minutes=10), "10m"),
        (timedelta(seconds=30), "30s"),
        (timedelta(days=1, hours=2), "1d2h"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(milliseconds=500), "500ms"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(weeks=2), "14d"),
        (timedelta(seconds=1, milliseconds=250), "1.25s"),
        (timedelta(0), "0s"),
        (timedelta(seconds=-30), "-30s"),
    ],
)
def test_it_formats_compactly(td, text):
    assert format_duration(td) == text


def test_it_rounds_formatting_to_milliseconds():
    assert format_duration(timedelta(microseconds=1_500_400)) == "1.5s"


@pytest.mark.parametrize("text", ["1h30m", "10m", "1d2h", "1.5s", "500ms", "3d4h5m6s"])
def test_format_output_parses_back_to_the_same_duration(text):
    assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize(
    ("td", "words"),
    [
        (timedelta(minutes=10), "10 minutes"),
        (timedelta(hours=1, minutes=30), "1 hour 30 minutes"),
        (timedelta(days=1), "1 day"),
        (timedelta(seconds=1.5), "1.5 seconds"),
        (timedelta(milliseconds=500), "500 milliseconds"),
    ],
)
def test_it_describes_durations_in_words(td, words):
    assert describe_duration(td) == words
