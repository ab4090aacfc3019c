"""A run that ends failed, timed_out or lost is one WARNING line (job, run, error); a success
is none."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import reaper, runner
from jobs.models import Job, Run, RunStatus

from .helpers import http_job, run_once

pytestmark = pytest.mark.django_db


def warnings_of(caplog, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger and r.levelno == logging.WARNING]


def test_a_failed_run_is_one_warning_naming_job_run_and_error(api, target, caplog):
    caplog.set_level(logging.INFO)  # LOG_LEVEL's default
    job = run_once(
        api, {"uri": f"{target.url}/status/500", "expected_range": "200"}, name="nightly-sync"
    )
    run = job.runs.get()
    assert run.status == RunStatus.FAILED
    (line,) = warnings_of(caplog, "jobs.runner")
    text = line.getMessage()
    assert text.startswith("run failed: job 'nightly-sync'")
    assert str(run.id) in text and str(job.id) in text
    assert run.error.split()[0] in text
    assert "\n" not in text


def test_a_failed_run_that_is_retried_says_so(api, target, caplog):
    job = run_once(
        api,
        {"uri": f"{target.url}/status/503"},
        name="flaky",
        retry={"max_attempts": 2, "delay": "1h"},
    )
    (line,) = warnings_of(caplog, "jobs.runner")
    assert "retry 2 due" in line.getMessage()
    assert job.runs.count() == 2


def test_a_timed_out_run_is_one_warning(api, target, caplog):
    run_once(api, {"uri": f"{target.url}/slow/5", "timeout": "0.5s"}, name="slowpoke")
    (line,) = warnings_of(caplog, "jobs.runner")
    assert line.getMessage().startswith("run timed_out: job 'slowpoke'")
    assert "No complete response within 0.5s" in line.getMessage()


def test_a_successful_run_logs_no_warning(api, target, caplog):
    job = run_once(api, {"uri": f"{target.url}/ok"}, name="fine")
    assert job.runs.get().status == RunStatus.SUCCEEDED
    assert warnings_of(caplog, "jobs.runner") == []


def test_a_lost_run_is_one_warning_from_the_reaper(api, caplog):
    created = api.post("/api/v1/jobs", http_job("1h", name="vanishing"), format="json")
    job = Job.objects.get(id=created.json()["id"])
    stale = timezone.now() - timedelta(minutes=5)
    run = Run.objects.create(
        job=job,
        job_revision=job.revision,
        due_at=stale,
        idempotency_key=job.id,
        status=RunStatus.RUNNING,
        started_at=stale,
        heartbeat_at=stale,
        worker="host:1:run_0",
    )
    assert reaper.recover_lost_runs() == 1
    lines = [r.getMessage() for r in warnings_of(caplog, "jobs.reaper")]
    (line,) = [text for text in lines if text.startswith("run lost")]
    assert f"job 'vanishing' ({job.id}) run={run.id} attempt=1" in line
    assert "recovery attempt 2" in line
    assert "No heartbeat from worker host:1:run_0" in line


def test_the_error_in_the_line_is_cut(api, caplog):
    job = run_once(api, {"uri": "http://127.0.0.1:9/x"}, name="x")
    run = job.runs.get()
    caplog.clear()
    runner.log_run_ended(runner.log, "failed", job, run.id, 1, "e" * 5000 + "\nmore")
    (line,) = warnings_of(caplog, "jobs.runner")
    assert len(line.getMessage()) < 700
