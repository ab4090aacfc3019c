"""The reaper republishes lost messages, not the ones waiting behind busy workers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import reaper, runner
from jobs.models import Job, Run, RunStatus
from tests.broker import queued

from .helpers import http_job

pytestmark = pytest.mark.django_db


def pending_run(api, due_in: timedelta) -> Run:
    """A run planned and queued, due `due_in` from now (negative: in the past)."""
    response = api.post("/api/v1/jobs", http_job("1h"), format="json")
    assert response.status_code == 201, response.data
    job = Job.objects.get(id=response.json()["id"])
    due = timezone.now() + due_in
    Job.objects.filter(id=job.id).update(next_run_at=None)
    return Run.objects.create(
        job=job,
        job_revision=job.revision,
        due_at=due,
        idempotency_key=job.id,
        status=RunStatus.PENDING,
        queued_at=due,
    )


def test_runs_behind_busy_workers_are_not_published_twice(api, broker):
    waiting = pending_run(api, -timedelta(minutes=2))  # behind the backlog
    runner.claim(str(pending_run(api, -timedelta(minutes=3)).id))  # workers are here
    assert reaper.republish_stale_pending() == 0
    assert queued(broker) == 0
    assert Run.objects.get(id=waiting.id).queued_at == waiting.queued_at


def test_runs_workers_have_passed_are_published_again(api, broker):
    lost = pending_run(api, -timedelta(minutes=2))
    runner.claim(str(pending_run(api, -timedelta(seconds=1)).id))  # a later fire started
    assert reaper.republish_stale_pending() == 1
    assert queued(broker) == 1
    assert Run.objects.get(id=lost.id).queued_at > lost.queued_at


def test_runs_are_published_again_when_no_worker_is_busy(api, broker):
    pending_run(api, -timedelta(minutes=2))
    assert reaper.republish_stale_pending() == 1


def test_runs_whose_message_expired_are_published_again_whatever_the_backlog(api, broker, settings):
    settings.SCHED = {**settings.SCHED, "MESSAGE_EXPIRES": 60.0}
    pending_run(api, -timedelta(minutes=2))
    runner.claim(str(pending_run(api, -timedelta(minutes=3)).id))
    assert reaper.republish_stale_pending() == 1
