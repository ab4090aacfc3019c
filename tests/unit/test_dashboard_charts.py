"""The dashboard's pure parts: fire-lag histograms, the SVG charts' numbers, and what they
write for people."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from dashboard import charts, histogram
from dashboard.formats import duration_text, relative_text
from dashboard.selectors import Bucket, Durations, quantile

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def test_a_histograms_percentiles_are_within_9_percent_of_the_exact_ones():
    rng = random.Random(7)
    lags = [rng.lognormvariate(3, 1.5) for _ in range(5000)]
    counts = histogram.merge([{histogram.index_of(lag): 1} for lag in lags])
    ordered = sorted(lags)
    for q in (0.5, 0.9, 0.99):
        exact = ordered[max(0, int(q * len(ordered) + 0.999999) - 1)]
        assert histogram.percentile(counts, q) == pytest.approx(exact, rel=0.095)


def test_histograms_add_up_and_survive_json():
    first = {histogram.index_of(5): 2, histogram.index_of(900): 1}
    second = histogram.as_json({histogram.index_of(5): 1})
    merged = histogram.merge([first, second])
    assert merged[histogram.index_of(5)] == 3
    assert histogram.merge([histogram.as_json(merged)]) == merged
    assert histogram.percentile({}, 0.5) is None


def test_lags_under_a_millisecond_and_beyond_the_last_bucket_are_kept():
    assert histogram.index_of(-3) == histogram.index_of(0.5) == 0
    assert histogram.index_of(10**12) == histogram.LAST


def test_the_stacked_bars_carry_each_buckets_numbers():
    buckets = [
        Bucket(T0, {"succeeded": 3, "failed": 2}, 5),
        Bucket(T0 + timedelta(minutes=1)),
    ]
    svg = str(charts.runs_by_status(buckets, 60, "Runs"))
    assert f'data-bucket="{T0.isoformat()}" data-total="5"' in svg
    assert 'data-status="succeeded" data-count="3"' in svg
    assert 'data-status="failed" data-count="2"' in svg
    assert "<title>12:00 UTC: 5 runs: 3 succeeded, 2 failed</title>" in svg
    assert f'fill="{charts.STATUS_COLOURS["failed"]}"' in svg


def test_names_are_escaped_in_the_charts():
    name = '<script>alert("x")</script>'
    svg = str(charts.durations_by_job([(name, "/j/1/", Durations(0.1, 0.2, 5))], "Durations"))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


def test_the_lag_chart_draws_p50_and_p99_on_a_log_scale():
    buckets = [Bucket(T0, p50_ms=12.0, p99_ms=3400.0), Bucket(T0 + timedelta(minutes=1))]
    svg = str(charts.fire_lag(buckets, 60, "Lag"))
    assert 'data-p50-ms="12" data-p99-ms="3400"' in svg
    assert ">10 s</text>" in svg  # the axis reaches the decade above the highest p99


def test_the_timeline_tells_apart_fires_seconds_and_hours_away():
    job = SimpleNamespace(id="a", name="soon", health="ok")
    daily = SimpleNamespace(id="b", name="daily", health="failing")
    svg = str(
        charts.fire_timeline(
            [(job, T0 + timedelta(seconds=3)), (daily, T0 + timedelta(hours=15))],
            T0,
            lambda j: f"/dashboard/jobs/{j.id}/",
            "Upcoming",
        )
    )
    assert svg.count('class="fire"') == 2
    assert ">+1 h</text>" in svg and ">+10 s</text>" in svg
    assert f'fill="{charts.STATUS_COLOURS["failed"]}"' in svg  # the failing job's fire


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0004, "0.4 ms"),
        (0.012, "12 ms"),
        (1.25, "1.25 s"),
        (42, "42 s"),
        (185, "3 min 5 s"),
        (7800, "2 h 10 min"),
        (None, ""),
    ],
)
def test_durations_are_written_for_people(seconds, text):
    assert duration_text(seconds) == text


def test_times_are_written_relative_to_now():
    assert relative_text(T0 + timedelta(seconds=12), T0) == "in 12 s"
    assert relative_text(T0 - timedelta(minutes=3), T0) == "3 min ago"


def test_quantiles_interpolate_as_postgresqls_percentile_cont():
    assert quantile([1, 2, 3, 4, 5, 6, 7, 8], 0.5) == 4.5
    assert quantile([1, 2, 3, 4, 5, 6, 7, 8], 0.95) == pytest.approx(7.65)
    assert quantile([3], 0.95) == 3
