"""The dashboard's rollup: runs counted per minute, owner and status, the quarter hours and
hours agreeing with their minutes, passes idempotent, one pass at a time."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection

from dashboard import histogram
from dashboard.models import EVERYONE, HOUR, MINUTE, QUARTER, TOTAL, RunBucket
from dashboard.rollup import KEEP, LOCK_KEY, RECENT, floor_to, rollup
from jobs.models import Job, Run, RunStatus, Trigger
from tests.users import make_user

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

NOW = datetime(2030, 1, 1, 12, 30, 20, tzinfo=UTC)


def make_job(owner, name: str) -> Job:
    return Job.objects.create(
        owner=owner,
        name=name,
        type="http",
        task={"method": "GET", "uri": "http://127.0.0.1:9/"},
        schedule={"every": 60.0},
        schedule_kind="interval",
    )


def add_run(job, due_at, status=RunStatus.SUCCEEDED, *, lag_ms=None, seconds=None) -> Run:
    started = None if lag_ms is None else due_at + timedelta(milliseconds=lag_ms)
    finished = None if started is None or seconds is None else started + timedelta(seconds=seconds)
    return Run.objects.create(
        job=job,
        job_revision=1,
        due_at=due_at,
        trigger=Trigger.SCHEDULE,
        idempotency_key=uuid.uuid4(),
        status=status,
        started_at=started,
        finished_at=finished,
    )


def caught_up(now=NOW) -> None:
    """Passes until the rollup has every minute it keeps (a first start catches up)."""
    for _ in range(5):
        if rollup(now) <= RECENT + 1:
            return
    raise AssertionError("the rollup did not catch up in 5 passes")


def cells(seconds: int, owner: int = EVERYONE) -> dict:
    return {
        (row.bucket, row.status): (row.count, histogram.merge([row.lag]))
        for row in RunBucket.objects.filter(seconds=seconds, owner_id=owner)
    }


def counts(seconds: int, bucket, owner: int = EVERYONE) -> dict[str, int]:
    return {
        row.status: row.count
        for row in RunBucket.objects.filter(seconds=seconds, owner_id=owner, bucket=bucket)
        if row.count
    }


@pytest.fixture
def users(django_user_model):
    return make_user("alice"), make_user("bob")


def test_it_counts_each_minutes_runs_by_owner_and_status(users):
    alice, bob = users
    backup, report = make_job(alice, "backup"), make_job(bob, "report")
    minute = floor_to(NOW, 60) - timedelta(minutes=1)
    for i in range(3):
        add_run(backup, minute + timedelta(seconds=i), lag_ms=20 + i, seconds=1)
    add_run(backup, minute + timedelta(seconds=30), RunStatus.FAILED, lag_ms=700, seconds=1)
    add_run(report, minute + timedelta(seconds=40), RunStatus.FAILED, lag_ms=25, seconds=1)
    add_run(report, minute + timedelta(seconds=59), RunStatus.PENDING)
    add_run(report, minute + timedelta(seconds=60), RunStatus.PENDING)  # the next minute

    caught_up()

    assert counts(MINUTE, minute, alice.pk) == {"succeeded": 3, "failed": 1, TOTAL: 4}
    assert counts(MINUTE, minute, bob.pk) == {"failed": 1, "pending": 1, TOTAL: 2}
    assert counts(MINUTE, minute) == {"succeeded": 3, "failed": 2, "pending": 1, TOTAL: 6}
    assert counts(MINUTE, minute + timedelta(minutes=1)) == {"pending": 1, TOTAL: 1}
    # Fire lags of the five that started: 20, 21, 22, 25 and 700 ms.
    lag = cells(MINUTE)[(minute, TOTAL)][1]
    assert sum(lag.values()) == 5
    assert histogram.percentile(lag, 0.5) == pytest.approx(22, rel=0.1)
    assert histogram.percentile(lag, 0.99) == pytest.approx(700, rel=0.1)
    # The quarter hour (12:15) holds the minute; the hour (12:00) the next minute's run too.
    quarter, hour = floor_to(minute, QUARTER), floor_to(minute, HOUR)
    assert counts(QUARTER, quarter) == {"succeeded": 3, "failed": 2, "pending": 1, TOTAL: 6}
    assert counts(HOUR, hour) == {"succeeded": 3, "failed": 2, "pending": 2, TOTAL: 7}
    assert counts(HOUR, hour, alice.pk) == {"succeeded": 3, "failed": 1, TOTAL: 4}


def test_a_pass_right_after_another_changes_nothing(users):
    alice, _ = users
    job = make_job(alice, "backup")
    start = floor_to(NOW, 60) - timedelta(minutes=50)
    for i in range(50):
        add_run(job, start + timedelta(minutes=i, seconds=7), lag_ms=5 * i + 1, seconds=0.5)
    caught_up()
    before = {seconds: cells(seconds) for seconds in (MINUTE, QUARTER, HOUR)}
    before_alice = cells(QUARTER, alice.pk)
    rows = set(RunBucket.objects.values_list("pk", flat=True))

    assert rollup(NOW) == RECENT + 1
    assert rollup(NOW) == RECENT + 1

    assert {seconds: cells(seconds) for seconds in (MINUTE, QUARTER, HOUR)} == before
    assert cells(QUARTER, alice.pk) == before_alice
    assert set(RunBucket.objects.values_list("pk", flat=True)) == rows  # nothing rewritten
    assert sum(count for (_, status), (count, _) in before[HOUR].items() if status) == 50


def test_an_old_minute_is_counted_again_when_its_running_run_finishes(users):
    alice, _ = users
    job = make_job(alice, "long")
    minute = floor_to(NOW, 60) - timedelta(minutes=40)
    long_run = add_run(job, minute + timedelta(seconds=5), RunStatus.RUNNING, lag_ms=3)
    add_run(job, minute + timedelta(seconds=9), RunStatus.SUCCEEDED, lag_ms=3, seconds=1)
    caught_up()
    assert counts(MINUTE, minute) == {"running": 1, "succeeded": 1, TOTAL: 2}

    Run.objects.filter(pk=long_run.pk).update(
        status=RunStatus.SUCCEEDED, finished_at=NOW - timedelta(seconds=1)
    )
    later = NOW + timedelta(seconds=30)
    assert rollup(later) == RECENT + 2  # the recent minutes and the one that changed

    assert counts(MINUTE, minute) == {"succeeded": 2, TOTAL: 2}
    assert counts(QUARTER, floor_to(minute, QUARTER)) == {"succeeded": 2, TOTAL: 2}
    assert counts(HOUR, floor_to(minute, HOUR), alice.pk) == {"succeeded": 2, TOTAL: 2}


def test_a_stuck_pending_run_costs_no_recount(users):
    alice, _ = users
    job = make_job(alice, "stuck")
    add_run(job, floor_to(NOW, 60) - timedelta(minutes=30), RunStatus.PENDING)
    caught_up()
    assert rollup(NOW + timedelta(seconds=30)) == RECENT + 1


def test_it_catches_up_after_a_stop_and_prunes_old_minutes(users):
    alice, _ = users
    job = make_job(alice, "backup")
    first = floor_to(NOW, 60) - timedelta(minutes=10)
    add_run(job, first + timedelta(seconds=1), lag_ms=2, seconds=1)
    caught_up()
    # Beat stops for two hours; runs go on being recorded (another beat, say).
    later = NOW + timedelta(hours=2)
    missed = first + timedelta(hours=1)
    add_run(job, missed, RunStatus.FAILED, lag_ms=2, seconds=1)
    caught_up(later)
    assert counts(MINUTE, missed) == {"failed": 1, TOTAL: 1}
    assert counts(HOUR, floor_to(missed, HOUR)) == {"failed": 1, TOTAL: 1}

    much_later = later + KEEP[MINUTE] + timedelta(hours=1)
    caught_up(much_later)
    assert not RunBucket.objects.filter(
        seconds=MINUTE, bucket__lt=much_later - KEEP[MINUTE] - timedelta(minutes=1)
    ).exists()
    # The hours stay for the week's chart.
    assert counts(HOUR, floor_to(first, HOUR))["succeeded"] == 1


def test_a_pass_does_nothing_while_another_beat_holds_the_lock(users):
    if connection.vendor != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's")
    alice, _ = users
    add_run(make_job(alice, "backup"), floor_to(NOW, 60), lag_ms=1, seconds=1)
    settings = connection.settings_dict
    other = psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
        autocommit=True,
    )
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        assert rollup(NOW) == 0
        assert not RunBucket.objects.exists()
        other.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
    finally:
        other.close()
    caught_up()
    assert counts(MINUTE, floor_to(NOW, 60)) == {"succeeded": 1, TOTAL: 1}


def test_lag_buckets_agree_between_the_database_and_python(users):
    """The SQL of the pass (PostgreSQL) and histogram.index_of put each lag in one bucket."""
    alice, _ = users
    job = make_job(alice, "lags")
    minute = floor_to(NOW, 60) - timedelta(minutes=2)
    lags = [0.2, 1.5, 3, 17, 95, 480, 2_600, 13_000, 61_000, 400_000]
    for i, lag in enumerate(lags):
        add_run(job, minute + timedelta(seconds=i), lag_ms=lag, seconds=1)
    caught_up()
    assert cells(MINUTE)[(minute, TOTAL)][1] == Counter(histogram.index_of(lag) for lag in lags)
