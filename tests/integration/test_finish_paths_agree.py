"""A success recorded by the SQL fast path (jobs/runner_sql.py) leaves the run and its job
exactly as the ORM path (jobs/runner.py with jobs/settle.py) does: the job-status rules
are written twice, and this keeps the copies equal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from executors.base import Outcome
from jobs import dispatch, runner, runner_sql, services
from jobs.models import Job, JobStatus, Run, RunStatus, Trigger

from .helpers import http_job

pytestmark = pytest.mark.django_db(transaction=True)

RESULT = {"status_code": 200, "body": "ok", "body_truncated": False, "elapsed_ms": 3}


def claimed(api, schedule, **extra) -> Run:
    response = api.post("/api/v1/jobs", http_job(schedule, **extra), format="json")
    assert response.status_code == 201, response.data
    job = Job.objects.get(id=response.json()["id"])
    Job.objects.filter(id=job.id).update(next_run_at=timezone.now())
    dispatch.plan_due_fires()
    run = job.runs.get()
    assert runner.claim(str(run.id)) is not None
    return Run.objects.select_related("job").get(id=run.id)


def one_off(api) -> Run:
    return claimed(api, "in 1h")


def recurring(api) -> Run:
    return claimed(api, {"every": "1h"})


def recurring_at_its_end(api) -> Run:
    return claimed(api, {"every": "1h"}, max_runs=1)


def with_another_running(api) -> Run:
    run = one_off(api)
    other = services.job_run_now(job=run.job)
    assert runner.claim(str(other.id)) is not None
    return run


def with_a_pending_attempt(api) -> Run:
    run = one_off(api)
    Run.objects.create(
        job=run.job,
        job_revision=run.job_revision,
        due_at=timezone.now() + timedelta(hours=1),
        attempt=2,
        trigger=Trigger.RETRY,
        idempotency_key=run.idempotency_key,
    )
    return run


def paused_meanwhile(api) -> Run:
    run = recurring(api)
    services.job_pause(job=run.job)
    return run


def canceled_meanwhile(api) -> Run:
    run = recurring(api)
    services.job_cancel(job=run.job)
    return run


CASES = [
    one_off,
    recurring,
    recurring_at_its_end,
    with_another_running,
    with_a_pending_attempt,
    paused_meanwhile,
    canceled_meanwhile,
]


def recorded(run: Run) -> dict:
    run.refresh_from_db()
    job = Job.objects.get(id=run.job_id)
    return {
        "run.status": run.status,
        "run.result": run.result,
        "run.error": run.error,
        "run.finished_at is heartbeat_at": run.finished_at == run.heartbeat_at is not None,
        "job.status": job.status,
        "job.last_run is the run": job.last_run_id == run.id,
        "job.next_run_at is set": job.next_run_at is not None,
    }


@pytest.mark.parametrize("case", CASES, ids=[case.__name__ for case in CASES])
def test_the_sql_path_records_a_success_as_the_orm_path_does(api, broker, monkeypatch, case):
    by_sql = case(api)
    assert runner_sql.succeed(by_sql, RESULT, "", timezone.now()), "the SQL path declined"

    by_orm = case(api)
    monkeypatch.setattr(runner_sql, "enabled", lambda: False)
    assert runner.finish(by_orm, Outcome(RunStatus.SUCCEEDED, RESULT))

    assert recorded(by_sql) == recorded(by_orm)
    if case in (paused_meanwhile, canceled_meanwhile):
        assert recorded(by_sql)["job.status"] in (JobStatus.PAUSED, JobStatus.CANCELED)
