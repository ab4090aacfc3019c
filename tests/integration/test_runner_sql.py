"""The worker's one-statement claim and success on PostgreSQL (jobs/runner_sql.py)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import DataError, connection, connections, transaction

from executors.base import Outcome
from jobs import dispatch, runner, runner_sql, services
from jobs.models import Job, JobStatus, Run, RunStatus

from .helpers import http_job

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the one-statement path is PostgreSQL's"
    ),
]

OK = Outcome(RunStatus.SUCCEEDED, {"status_code": 200})


def make_job(api, schedule="1s", **extra) -> Job:
    response = api.post("/api/v1/jobs", http_job(schedule, **extra), format="json")
    assert response.status_code == 201, response.data
    return Job.objects.get(id=response.json()["id"])


def planned_run(api, schedule="1s", **extra) -> Run:
    job = make_job(api, schedule, **extra)
    dispatch.plan_due_fires()
    return job.runs.get()


def test_a_claim_returns_what_the_executor_needs_and_marks_the_job_running(api, broker):
    pending = planned_run(api)
    run = runner_sql.claim(str(pending.id), "host:1:t")
    assert run is not None
    assert run.job.task == pending.job.task  # decoded JSON, not text
    assert run.job.task["body"] == {"a": 1}
    assert (run.job.type, run.attempt, run.idempotency_key) == ("http", 1, pending.idempotency_key)
    stored = Run.objects.get(id=pending.id)
    assert (stored.status, stored.worker) == (RunStatus.RUNNING, "host:1:t")
    assert stored.started_at == stored.heartbeat_at == run.started_at
    assert Job.objects.get(id=pending.job_id).status == JobStatus.RUNNING
    assert runner_sql.claim(str(pending.id), "host:1:t") is None  # a duplicate message


def test_a_claim_leaves_other_concurrency_policies_and_stale_runs_to_the_orm(api, broker):
    forbid = planned_run(api, concurrency="forbid")
    assert runner_sql.claim(str(forbid.id), "w") is None
    assert Run.objects.get(id=forbid.id).status == RunStatus.PENDING
    assert runner.claim(str(forbid.id)) is not None  # the ORM path decides

    stale = planned_run(api)
    Job.objects.filter(id=stale.job_id).update(revision=stale.job_revision + 1)
    assert runner_sql.claim(str(stale.id), "w") is None
    assert Run.objects.get(id=stale.id).status == RunStatus.PENDING


def test_a_success_settles_a_one_off_job_and_records_its_last_run(api, broker):
    run = runner.claim(str(planned_run(api).id))
    assert runner.finish(run, OK) is True
    stored = Run.objects.get(id=run.id)
    assert (stored.status, stored.result) == (RunStatus.SUCCEEDED, {"status_code": 200})
    job = Job.objects.get(id=run.job_id)
    assert (job.status, job.last_run_id) == (JobStatus.SUCCEEDED, run.id)


def test_a_success_keeps_a_recurring_job_scheduled(api, broker):
    run = runner.claim(str(planned_run(api, {"every": "1h"}, start_at="1s").id))
    runner.finish(run, OK)
    assert Job.objects.get(id=run.job_id).status == JobStatus.SCHEDULED


def test_a_job_stays_running_while_another_of_its_runs_runs(api, broker):
    first = runner.claim(str(planned_run(api).id))
    second = runner.claim(str(services.job_run_now(job=Job.objects.get(id=first.job_id)).id))
    runner.finish(first, OK)
    assert Job.objects.get(id=first.job_id).status == JobStatus.RUNNING
    runner.finish(second, OK)
    assert Job.objects.get(id=first.job_id).status == JobStatus.SUCCEEDED


def test_a_success_after_the_run_was_canceled_changes_nothing(api, broker):
    run = runner.claim(str(planned_run(api).id))
    Run.objects.filter(id=run.id).update(status=RunStatus.CANCELED)
    assert runner_sql.succeed(run, {}, "", run.started_at) is False
    assert runner.finish(run, OK) is False
    assert Run.objects.get(id=run.id).status == RunStatus.CANCELED


@pytest.mark.django_db(transaction=True)
def test_two_runs_of_a_job_ending_at_once_leave_it_settled(api, broker):
    """While one finish holds the job, the other skips the one-statement path (it never
    waits in a shared statement), waits on the ORM path, and then sees it committed."""
    first = runner.claim(str(planned_run(api).id))
    second = runner.claim(str(services.job_run_now(job=Job.objects.get(id=first.job_id)).id))
    ended = threading.Event()
    returned = {}

    def finish_second() -> None:
        try:
            returned["sql"] = runner_sql.succeed(second, {}, "", second.started_at)
            returned["orm"] = runner.finish(second, OK)
        finally:
            connections.close_all()
            ended.set()

    with transaction.atomic():  # the first finish, in progress: the job locked, run ended
        Job.objects.select_for_update(no_key=True).get(id=first.job_id)
        Run.objects.filter(id=first.id).update(status=RunStatus.SUCCEEDED)
        thread = threading.Thread(target=finish_second)
        thread.start()
        assert not ended.wait(0.5)  # the second waits for the job
    thread.join(10)
    assert returned == {"sql": False, "orm": True}
    assert Job.objects.get(id=first.job_id).status == JobStatus.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_a_shared_success_statement_never_waits_for_a_job_locked_elsewhere(api, broker):
    free = runner.claim(str(planned_run(api).id))
    held = runner.claim(str(planned_run(api).id))
    items = [(free, {}, "", free.started_at), (held, {}, "", held.started_at)]
    returned = {}

    def batch() -> None:
        try:
            returned["done"] = runner_sql._succeed_batch(items)
        finally:
            connections.close_all()

    with transaction.atomic():  # e.g. the dispatcher planning the held job's next fire
        Job.objects.select_for_update(no_key=True).get(id=held.job_id)
        thread = threading.Thread(target=batch)
        thread.start()
        thread.join(5)
        assert returned == {"done": [True, False]}  # done while the lock is still held
    assert Run.objects.get(id=free.id).status == RunStatus.SUCCEEDED
    assert Run.objects.get(id=held.id).status == RunStatus.RUNNING  # for the ORM path


def test_one_claim_statement_serves_many_runs_and_leaves_the_rest_to_the_orm(api, broker):
    runs = [planned_run(api) for _ in range(3)]
    forbid = planned_run(api, concurrency="forbid")
    ids = [str(run.id) for run in [*runs, forbid]]
    claimed = runner_sql._claim_batch([(run_id, f"w{n}") for n, run_id in enumerate(ids)])
    assert [run is not None for run in claimed] == [True, True, True, False]
    for n, run in enumerate(claimed[:3]):
        assert (str(run.id), run.job_id) == (ids[n], runs[n].job_id)  # each its own row
        stored = Run.objects.get(id=run.id)
        assert (stored.status, stored.worker) == (RunStatus.RUNNING, f"w{n}")
    assert Run.objects.get(id=forbid.id).status == RunStatus.PENDING


def test_one_success_statement_records_each_run_and_settles_each_job(api, broker):
    once = runner.claim(str(planned_run(api).id))
    recurring = runner.claim(str(planned_run(api, {"every": "1h"}, start_at="1s").id))
    canceled = runner.claim(str(planned_run(api).id))
    Run.objects.filter(id=canceled.id).update(status=RunStatus.CANCELED)
    items = [
        (once, {"status_code": 200}, "", once.started_at),
        (recurring, {"status_code": 204}, "slow", recurring.started_at),
        (canceled, {}, "", canceled.started_at),
    ]
    assert runner_sql._succeed_batch(items) == [True, True, False]
    stored = Run.objects.get(id=recurring.id)
    assert (stored.status, stored.error) == (RunStatus.SUCCEEDED, "slow")
    assert stored.result == {"status_code": 204}
    assert Job.objects.get(id=once.job_id).status == JobStatus.SUCCEEDED
    assert Job.objects.get(id=recurring.job_id).status == JobStatus.SCHEDULED
    assert Job.objects.get(id=recurring.job_id).last_run_id == recurring.id
    assert Run.objects.get(id=canceled.id).status == RunStatus.CANCELED


@pytest.mark.django_db(transaction=True)
def test_runs_claimed_and_finished_by_many_threads_at_once_are_each_recorded(api, broker):
    """Sixteen threads, as in a worker: their claims and successes go in shared statements."""
    pending = [planned_run(api) for _ in range(12)]
    pending += [services.job_run_now(job=Job.objects.get(id=pending[0].job_id)) for _ in range(4)]
    start = threading.Barrier(len(pending))

    def work(run_id) -> str:
        try:
            start.wait(10)
            run = runner.claim(str(run_id))
            assert run is not None
            start.wait(10)
            assert runner.finish(run, OK) is True
            return runner.worker_name()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(len(pending)) as pool:
        workers = list(pool.map(work, [run.id for run in pending]))
    for run, worker in zip(pending, workers, strict=True):
        stored = Run.objects.get(id=run.id)
        assert (stored.status, stored.worker) == (RunStatus.SUCCEEDED, worker)
    # five runs of the first job ended together; it is settled, not left running
    assert set(Job.objects.values_list("status", flat=True)) == {JobStatus.SUCCEEDED}


def test_a_failed_shared_statement_changes_nothing_and_each_run_can_go_alone(api, broker):
    """What the group commit's fallback relies on: the batch is all or nothing."""
    good = runner.claim(str(planned_run(api).id))
    bad = runner.claim(str(planned_run(api).id))
    items = [(good, {}, "", good.started_at), (bad, {}, "nul \x00 byte", bad.started_at)]
    with pytest.raises(DataError):
        runner_sql._succeed_batch(items)
    assert Run.objects.get(id=good.id).status == RunStatus.RUNNING  # rolled back with it
    assert runner_sql._succeed_batch(items[:1]) == [True]  # the same connection goes on
    assert Run.objects.get(id=good.id).status == RunStatus.SUCCEEDED
    with pytest.raises(DataError):
        runner_sql.succeed(*items[1])  # alone, its error is its own
