"""Fixes found by the fault-injection suite (tests/faults), pinned at the unit level."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection, Exchange, Queue
from kombu.common import ignore_errors

from jobs import dispatch, reaper, runner
from jobs.beat import DispatchingScheduler
from jobs.models import Job, JobStatus, Run, RunStatus, Trigger

from .helpers import http_job

pytestmark = pytest.mark.django_db


def make_job(api, schedule, **extra) -> Job:
    response = api.post("/api/v1/jobs", http_job(schedule, **extra), format="json")
    assert response.status_code == 201, response.data
    return Job.objects.get(id=response.json()["id"])


# --- a downtime that outlasts a recurring job's end_at: one run, no burst


def _back_after_downtime(job: Job, down_for: timedelta) -> None:
    """As if beat had been down for `down_for`: the job's times moved back by that much;
    then the dispatcher runs several passes."""
    Job.objects.filter(id=job.id).update(
        next_run_at=job.next_run_at - down_for,
        anchor_at=job.anchor_at - down_for,
        end_at=job.end_at - down_for,
    )
    job.refresh_from_db()
    for _ in range(5):
        dispatch.plan_due_fires()


def test_after_a_downtime_past_end_at_a_recurring_job_runs_once_not_a_burst(api, broker):
    job = make_job(api, {"every": "1m"}, start_at="30s", end_at="in 2h")
    # Beat was down for 3 h: the job's 60 fires until end_at were all missed.
    _back_after_downtime(job, timedelta(hours=3))
    (run,) = job.runs.all()
    # Once, for the last fire the job had (the last before its end_at), which is past the
    # default misfire grace (1 h): recorded missed, not run.
    assert job.end_at - timedelta(minutes=1) < run.due_at <= job.end_at
    assert run.status == RunStatus.MISSED
    job.refresh_from_db()
    assert job.next_run_at is None
    assert job.status == JobStatus.COMPLETED


def test_within_the_grace_the_last_fire_before_end_at_runs(api, broker):
    job = make_job(api, {"every": "10s"}, start_at="5s", end_at="in 1m")
    _back_after_downtime(job, timedelta(minutes=2))  # end_at passed a minute ago
    (run,) = job.runs.all()
    assert run.status == RunStatus.PENDING
    assert job.end_at - timedelta(seconds=10) < run.due_at <= job.end_at


# --- two fires of one job lost in one reaper pass


def test_one_reaper_pass_recovers_two_lost_fires_of_one_job(api, broker):
    job = make_job(api, {"every": "10s"}, start_at="in 1h")
    long_ago = timezone.now() - timedelta(minutes=5)
    fires = []
    for seconds in (0, 10):
        run = Run(
            job=job,
            job_revision=job.revision,
            due_at=long_ago + timedelta(seconds=seconds),
            status=RunStatus.RUNNING,
            started_at=long_ago,
            heartbeat_at=long_ago,
        )
        run.idempotency_key = run.id
        run.save(force_insert=True)
        fires.append(run)

    assert reaper.recover_lost_runs() == 2  # one pass, one `now`: no conflict
    recoveries = job.runs.filter(attempt=2)
    assert {r.idempotency_key for r in recoveries} == {f.id for f in fires}
    assert {r.trigger for r in recoveries} == {Trigger.RECOVERY}
    assert set(job.runs.filter(attempt=1).values_list("status", flat=True)) == {RunStatus.LOST}
    assert reaper.recover_lost_runs() == 0


# --- the reaper runs in beat, on its own clock


def test_beat_reaps_every_reap_interval(api, broker, settings):
    settings.SCHED = {**settings.SCHED, "REAP_INTERVAL": 60.0, "LOST_AFTER": 0.0}
    job = make_job(api, "now")
    run = runner.claim(str(job.runs.get().id))
    Run.objects.filter(id=run.id).update(heartbeat_at=timezone.now() - timedelta(minutes=1))

    class Beat:  # the scheduler's state the method uses, without a Celery beat around it
        _next_reap = 0.0

    beat = Beat()
    DispatchingScheduler._reap_when_due(beat)
    run.refresh_from_db()
    assert run.status == RunStatus.LOST
    assert job.runs.get(attempt=2).trigger == Trigger.RECOVERY

    # Not again before REAP_INTERVAL.
    second = runner.claim(str(job.runs.get(attempt=2).id))
    Run.objects.filter(id=second.id).update(heartbeat_at=timezone.now() - timedelta(minutes=1))
    DispatchingScheduler._reap_when_due(beat)
    second.refresh_from_db()
    assert second.status == RunStatus.RUNNING


def test_no_reap_periodic_task_on_the_worker_queues():
    # django-celery-beat keeps whole seconds (REAP_INTERVAL=0.5 became 0: a storm with two
    # beats), and a task waits for a free worker thread: the reaper runs in beat instead.
    assert "reap" not in settings.CELERY_BEAT_SCHEDULE
    assert settings.SCHED["REAP_INTERVAL"] > 0


# --- the Redis transport survives a broker restart


def test_a_closed_broker_connection_fails_as_a_connection_error(broker):
    """The state a worker is in after Redis went away: the consumer detached the dead
    connection's transport, and then closes its channel (restoring unacked messages) and
    acks a task that ended meanwhile. Both must fail as connection errors, which Celery
    handles (reconnect), not as an AttributeError, which stopped the worker."""
    assert settings.CELERY_BROKER_TRANSPORT == "schedsite.celery:RedisTransport"
    exchange = Exchange("faults-test", type="direct")
    queue = Queue("faults-test", exchange, routing_key="faults-test")
    with Connection(settings.CELERY_BROKER_URL, transport=settings.CELERY_BROKER_TRANSPORT) as conn:
        channel = conn.channel()
        bound = queue(channel)
        bound.declare()
        conn.Producer(channel).publish({"n": 1}, exchange=exchange, routing_key="faults-test")
        message = bound.get(no_ack=False)  # delivered, not acked: held by this "worker"
        assert message is not None

        # What the consumer leaves behind when Redis went away: the first close of the
        # channel dropped its pools and then failed on the dead socket; collect() detached
        # the transport from the connection.
        channel._disconnect_pools()
        conn._do_close_transport()

        with pytest.raises(conn.connection_errors):
            message.ack()
        with pytest.raises(redis.exceptions.ConnectionError):
            channel.close()
        ignore_errors(conn, channel.close)  # Celery's way: no error escapes


# --- a stalled process cannot keep its row locks forever


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="a PostgreSQL setting")
def test_postgres_ends_a_session_left_idle_in_a_transaction():
    assert "idle_in_transaction_session_timeout=" in connection.settings_dict["OPTIONS"]["options"]
    with connection.cursor() as cursor:
        cursor.execute("SHOW idle_in_transaction_session_timeout")
        (value,) = cursor.fetchone()
    assert value not in ("0", "0ms")  # e.g. "1min", the default DB_IDLE_IN_TRANSACTION_TIMEOUT
