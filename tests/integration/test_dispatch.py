"""The dispatcher, the worker's claim, retries and the reaper, on the real database and Redis."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from executors.base import Outcome
from jobs import dispatch, reaper, runner, services
from jobs.models import Job, JobStatus, Run, RunStatus, Trigger
from tests.broker import queued

from .helpers import http_job

pytestmark = pytest.mark.django_db


def make_job(api, schedule="1s", **extra) -> Job:
    response = api.post("/api/v1/jobs", http_job(schedule, **extra), format="json")
    assert response.status_code == 201, response.data
    return Job.objects.get(id=response.json()["id"])


@pytest.mark.smoke  # also on SQLite: the portable path
def test_it_plans_each_due_fire_once_and_queues_it(api, broker):
    due = make_job(api, "1s")
    later = make_job(api, "1h")
    assert dispatch.plan_due_fires() == 1
    assert dispatch.plan_due_fires() == 0
    run = due.runs.get()
    assert (run.status, run.trigger, run.attempt) == (RunStatus.PENDING, Trigger.SCHEDULE, 1)
    assert run.queued_at is not None
    assert later.runs.count() == 0
    assert queued(broker, "http") == 1


@pytest.mark.smoke  # also on SQLite: the portable path
def test_an_interval_job_advances_its_next_fire(api, broker):
    job = make_job(api, {"every": "10s"}, start_at="1s")
    first = job.next_run_at
    dispatch.plan_due_fires()
    job.refresh_from_db()
    assert job.next_run_at == first + timedelta(seconds=10)
    assert job.fire_count == 1


def test_after_downtime_a_recurring_job_runs_once_for_what_it_missed(api, broker):
    job = make_job(api, {"every": "1m"}, start_at="30s")
    Job.objects.filter(id=job.id).update(
        next_run_at=job.next_run_at - timedelta(minutes=30),
        anchor_at=job.anchor_at - timedelta(minutes=30),
    )
    assert dispatch.plan_due_fires() == 1
    assert dispatch.plan_due_fires() == 0
    run = job.runs.get()
    assert run.status == RunStatus.PENDING
    assert timezone.now() - run.due_at < timedelta(minutes=1)  # the latest missed fire
    job.refresh_from_db()
    assert job.next_run_at > timezone.now()


@pytest.mark.smoke  # also on SQLite: the portable path
def test_a_fire_later_than_the_misfire_grace_is_recorded_missed(api, broker):
    job = make_job(api, "1s", misfire_grace="10s")
    Job.objects.filter(id=job.id).update(next_run_at=timezone.now() - timedelta(minutes=5))
    dispatch.plan_due_fires()
    run = job.runs.get()
    assert run.status == RunStatus.MISSED
    assert queued(broker, "http") == 0
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED


@pytest.mark.smoke  # also on SQLite: the portable path
def test_a_fire_planned_twice_runs_once_and_is_published_once(api, broker):
    job = make_job(api, {"every": "1h"}, start_at="1s")
    first_due = job.next_run_at
    assert dispatch.plan_due_fires() == 1
    (run,) = job.runs.all()
    assert queued(broker, "http") == 1
    # The job row goes back to before that plan (say, a restored backup): the same fire is
    # due again, planned again in a batch with another job's fire.
    Job.objects.filter(id=job.id).update(next_run_at=first_due, fire_count=0)
    other = make_job(api, {"every": "1h"}, start_at="1s")
    assert dispatch.plan_due_fires() == 2
    assert list(job.runs.all()) == [run]  # no second run of the same fire...
    assert queued(broker, "http") == 2  # ...nor a second message: only the other job's
    assert other.runs.get().status == RunStatus.PENDING
    job.refresh_from_db()
    assert (job.next_run_at, job.status) == (first_due + timedelta(hours=1), JobStatus.SCHEDULED)


def test_forbid_skips_a_fire_that_comes_while_the_previous_run_runs(api, broker):
    job = make_job(api, {"every": "1m"}, start_at="1s", concurrency="forbid")
    dispatch.plan_due_fires()
    first = runner.claim(str(job.runs.get().id))
    assert first is not None
    second = services.job_run_now(job=job)
    assert runner.claim(str(second.id)) is None
    second.refresh_from_db()
    assert second.status == RunStatus.SKIPPED
    assert "forbid" in second.error
    runner.finish(first, Outcome(RunStatus.SUCCEEDED, {"status_code": 200}))
    third = services.job_run_now(job=job)
    assert runner.claim(str(third.id)) is not None


def test_allow_lets_runs_overlap(api, broker):
    job = make_job(api, {"every": "1m"}, start_at="1s")
    dispatch.plan_due_fires()
    assert runner.claim(str(job.runs.get().id)) is not None
    assert runner.claim(str(services.job_run_now(job=job).id)) is not None


@pytest.mark.smoke  # also on SQLite: the portable path
def test_a_job_with_max_runs_completes_after_its_last_run(api, broker):
    job = make_job(api, {"every": "1s"}, start_at="1s", max_runs=1)
    dispatch.plan_due_fires()
    job.refresh_from_db()
    assert job.next_run_at is None
    assert job.status == JobStatus.SCHEDULED  # its last run is still to come
    run = runner.claim(str(job.runs.get().id))
    runner.finish(run, Outcome(RunStatus.SUCCEEDED, {"status_code": 200}))
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert job.last_run_id == run.id


def test_a_duplicate_message_is_dropped(api, broker):
    job = make_job(api)
    dispatch.plan_due_fires()
    run_id = str(job.runs.get().id)
    assert runner.claim(run_id) is not None
    assert runner.claim(run_id) is None
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING


def test_a_failed_attempt_is_retried_with_the_same_idempotency_key(api, broker):
    job = make_job(api, retry={"max_attempts": 2, "backoff": "fixed", "delay": "0s"})
    dispatch.plan_due_fires()
    first = runner.claim(str(job.runs.get().id))
    runner.finish(first, Outcome(RunStatus.FAILED, {"status_code": 503}, "Status 503"))
    second = job.runs.get(attempt=2)
    assert (second.trigger, second.status) == (Trigger.RETRY, RunStatus.PENDING)
    assert second.idempotency_key == first.idempotency_key
    assert second.queued_at is not None  # due at once: published right away
    job.refresh_from_db()
    assert job.status == JobStatus.SCHEDULED
    runner.finish(runner.claim(str(second.id)), Outcome(RunStatus.SUCCEEDED, {"status_code": 200}))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.runs.count() == 2


def test_the_last_failed_attempt_fails_the_job(api, broker):
    job = make_job(api, retry={"max_attempts": 1})
    dispatch.plan_due_fires()
    runner.finish(runner.claim(str(job.runs.get().id)), Outcome(RunStatus.TIMED_OUT, {}, "slow"))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.runs.count() == 1


def test_a_later_retry_waits_for_the_dispatcher(api, broker):
    job = make_job(api, retry={"max_attempts": 2, "backoff": "fixed", "delay": "1m", "jitter": 0})
    dispatch.plan_due_fires()
    runner.finish(runner.claim(str(job.runs.get().id)), Outcome(RunStatus.FAILED, {}, "x"))
    retry = job.runs.get(attempt=2)
    assert retry.queued_at is None
    assert dispatch.publish_due_attempts() == 0
    assert dispatch.publish_due_attempts(timezone.now() + timedelta(minutes=1)) == 1
    retry.refresh_from_db()
    assert retry.queued_at is not None


def test_the_reaper_republishes_runs_the_broker_lost(api, broker):
    job = make_job(api)
    dispatch.plan_due_fires()
    broker.flushdb()  # Redis restarted without its data
    assert reaper.republish_stale_pending(timezone.now() + timedelta(minutes=5)) == 1
    assert queued(broker, "http") == 1
    assert job.runs.get().status == RunStatus.PENDING


def test_the_reaper_marks_a_silent_run_lost_and_recovers_it(api, broker):
    job = make_job(api)
    dispatch.plan_due_fires()
    run = runner.claim(str(job.runs.get().id))
    assert reaper.recover_lost_runs(timezone.now() + timedelta(minutes=5)) == 1
    run.refresh_from_db()
    assert run.status == RunStatus.LOST
    recovery = job.runs.get(attempt=2)
    assert recovery.trigger == Trigger.RECOVERY
    assert recovery.idempotency_key == run.idempotency_key
    # The dead attempt's late result changes nothing.
    assert runner.finish(run, Outcome(RunStatus.SUCCEEDED, {"status_code": 200})) is False
    run.refresh_from_db()
    assert run.status == RunStatus.LOST


# --- races between processes: PostgreSQL only (SQLite has one writer and no row locks) ---

postgres_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="needs PostgreSQL row locks"
)


def _in_threads(*targets):
    errors = []
    barrier = threading.Barrier(len(targets))

    def wrap(target):
        try:
            barrier.wait()
            target()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wrap, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors


def _many_due_jobs(alice, count: int, schedule) -> list[Job]:
    from jobs.api.serializers import JobInputSerializer

    jobs = []
    for _ in range(count):
        data = JobInputSerializer(data=http_job(schedule))
        data.is_valid(raise_exception=True)
        jobs.append(services.job_create(owner=alice, data=data.validated_data))
    Job.objects.filter(id__in=[j.id for j in jobs]).update(
        next_run_at=timezone.now(), anchor_at=timezone.now()
    )
    return jobs


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_plan_each_fire_once(alice, broker, settings):
    settings.SCHED = {**settings.SCHED, "DISPATCH_BATCH": 50}
    jobs = _many_due_jobs(alice, 300, {"every": "1h"})

    def drain():
        while dispatch.plan_due_fires():
            pass

    _in_threads(drain, drain)
    assert Run.objects.count() == 300
    assert Run.objects.values("job_id").distinct().count() == 300
    assert queued(broker, "http") == 300
    assert all(
        j.next_run_at > timezone.now() for j in Job.objects.filter(id__in=[j.id for j in jobs])
    )


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_no_run_of_a_job_canceled_during_dispatch_starts(alice, broker, settings):
    settings.SCHED = {**settings.SCHED, "DISPATCH_BATCH": 10}
    jobs = _many_due_jobs(alice, 100, {"every": "1h"})

    def drain():
        while dispatch.plan_due_fires():
            pass

    def cancel_all():
        for job in jobs:
            services.job_cancel(job=job)

    _in_threads(drain, cancel_all)
    assert Job.objects.filter(status=JobStatus.CANCELED).count() == 100
    for run in Run.objects.all():
        assert runner.claim(str(run.id)) is None
    assert not Run.objects.filter(status=RunStatus.RUNNING).exists()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_fire_planned_before_a_reschedule_never_runs(alice, broker, settings):
    from jobs.api.serializers import JobInputSerializer

    settings.SCHED = {**settings.SCHED, "DISPATCH_BATCH": 10}
    jobs = _many_due_jobs(alice, 100, {"every": "1h"})
    data = JobInputSerializer(jobs[0], data={"schedule": {"every": "2h"}}, partial=True)
    data.is_valid(raise_exception=True)

    def drain():
        while dispatch.plan_due_fires():
            pass

    def reschedule_all():
        for job in jobs:
            services.job_update(job=job, data=dict(data.validated_data))

    _in_threads(drain, reschedule_all)
    started = [r for r in Run.objects.all() if runner.claim(str(r.id)) is not None]
    # Only fires planned under the new schedule may start: none are due for 2 hours.
    assert started == []
    assert all(j.revision == 2 for j in Job.objects.all())
    assert connection.vendor == "postgresql"


@pytest.mark.django_db(transaction=True)  # the heartbeat thread has its own connection
def test_replace_stops_the_running_run_before_the_new_one_starts(api, broker, settings):
    settings.SCHED = {**settings.SCHED, "HEARTBEAT_INTERVAL": 0.05}
    job = make_job(api, {"every": "1m"}, start_at="1s", concurrency="replace")
    dispatch.plan_due_fires()
    old = runner.claim(str(job.runs.get().id))
    new_run = services.job_run_now(job=job)
    assert runner.claim(str(new_run.id)) is not None
    old.refresh_from_db()
    assert old.status == RunStatus.CANCELED
    assert old.error == f"Replaced by run {new_run.id} (concurrency: replace)."
    # The old run's worker notices at its next heartbeat and stops the work.
    stop = threading.Event()
    with runner.Heartbeat(old.id, stop):
        assert stop.wait(5)
    assert runner.finish(old, Outcome(RunStatus.CANCELED, {}, "stopped")) is False
    old.refresh_from_db()
    assert old.status == RunStatus.CANCELED
    assert old.finished_at is not None  # when it really stopped: the new run waits for it
    runner.wait_for_replaced(new_run)
