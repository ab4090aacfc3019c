"""One job whose schedule or retry policy cannot be computed never stops the others.

The poison rows are written directly (the API refuses them now); the loops that plan,
reap and record outcomes end the one job (`failed`, with the reason) and go on.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from executors.base import Outcome
from jobs import dispatch, reaper, runner, services
from jobs.models import Job, JobStatus, Run, RunStatus
from tests.broker import queued

from .helpers import http_job

pytestmark = pytest.mark.django_db

POISONS = {
    "an interval too long to add": {"kind": "interval", "every": "999999999d"},
    "a cron croniter refuses": {"kind": "cron", "cron": "61 * * * *"},
    "not a schedule at all": {"kind": "interval"},
}


def make_job(api, schedule, **extra) -> Job:
    response = api.post("/api/v1/jobs", http_job(schedule, **extra), format="json")
    assert response.status_code == 201, response.data
    return Job.objects.get(id=response.json()["id"])


def plant(job: Job, schedule: dict, **fields) -> None:
    """Write a schedule the API would refuse, due now, straight into the row."""
    Job.objects.filter(id=job.id).update(
        schedule=schedule, next_run_at=timezone.now() - timedelta(seconds=1), **fields
    )


@pytest.mark.smoke  # also on SQLite: the portable path
@pytest.mark.parametrize("poison", list(POISONS))
def test_a_job_whose_next_fire_cannot_be_computed_is_ended_and_the_others_fire(
    api, bob_api, broker, poison
):
    bad = make_job(api, {"every": "1h"}, start_at="1h")
    plant(bad, POISONS[poison])
    others = [make_job(bob_api, {"every": "1h"}, start_at="1s") for _ in range(3)]
    others.append(make_job(bob_api, "1s"))

    dispatch.dispatch(timezone.now() + timedelta(seconds=1))

    for job in others:
        assert job.runs.filter(status=RunStatus.PENDING).count() == 1, job.schedule
    assert queued(broker, "http") == len(others)
    bad.refresh_from_db()
    assert bad.status == JobStatus.FAILED
    assert bad.next_run_at is None
    assert bad.status_reason.startswith("The scheduler could not plan this job's next fire:")
    assert not bad.runs.exists()
    body = api.get(f"/api/v1/jobs/{bad.id}").json()
    assert (body["status"], body["status_reason"]) == ("failed", bad.status_reason)


def test_an_interval_job_without_its_anchor_is_ended_and_the_others_fire(api, broker):
    bad = make_job(api, {"every": "1h"}, start_at="1h")
    Job.objects.filter(id=bad.id).update(anchor_at=None, next_run_at=timezone.now())
    good = make_job(api, "1s")
    dispatch.dispatch(timezone.now() + timedelta(seconds=1))
    assert good.runs.count() == 1
    bad.refresh_from_db()
    assert (bad.status, bad.next_run_at) == (JobStatus.FAILED, None)
    assert "anchor" in bad.status_reason


def test_a_retry_delay_that_cannot_be_added_fails_the_job_instead_of_leaving_it_running(
    api, broker
):
    job = make_job(api, "1s", retry={"max_attempts": 3})
    Job.objects.filter(id=job.id).update(
        retry={"max_attempts": 3, "backoff": "fixed", "delay": "999999999d", "jitter": 0}
    )
    dispatch.plan_due_fires()
    run = runner.claim(str(job.runs.get().id))
    assert runner.finish(run, Outcome(RunStatus.FAILED, {}, "boom"))
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED  # recorded, not left running to be found lost
    assert job.runs.count() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "could not plan" in job.status_reason


def test_the_reaper_recovers_other_lost_runs_past_a_job_it_cannot_plan(api, bob_api, broker):
    bad = make_job(api, "1s")
    good = make_job(bob_api, "1s")
    dispatch.plan_due_fires()
    for job in (bad, good):
        runner.claim(str(job.runs.get().id))
    Job.objects.filter(id=bad.id).update(retry={"max_attempts": "many"})
    Run.objects.update(heartbeat_at=timezone.now() - timedelta(minutes=5))

    assert reaper.recover_lost_runs() == 2

    assert good.runs.filter(status=RunStatus.PENDING, trigger="recovery").count() == 1
    assert not bad.runs.filter(status=RunStatus.PENDING).exists()
    bad.refresh_from_db()
    assert bad.status == JobStatus.FAILED


def test_resuming_a_paused_job_whose_schedule_cannot_be_computed_ends_it(api):
    job = make_job(api, {"every": "1h"})
    services.job_pause(job=job)
    Job.objects.filter(id=job.id).update(
        schedule={"kind": "cron", "cron": "61 * * * *"},
        anchor_at=timezone.now() - timedelta(hours=2),
    )
    response = api.post(f"/api/v1/jobs/{job.id}/resume")
    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert "could not plan" in response.json()["status_reason"]


def test_upcoming_of_a_job_with_a_broken_stored_schedule_answers_its_next_fire(api):
    job = make_job(api, {"every": "1h"})
    Job.objects.filter(id=job.id).update(schedule={"kind": "interval"})
    response = api.get(f"/api/v1/jobs/{job.id}/upcoming")
    assert response.status_code == 200
    assert len(response.json()["upcoming"]) == 1
