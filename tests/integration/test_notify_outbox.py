"""How fires end: a job's health, failed fires in a row, auto-pause, and the notifications
written with the outcome (the outbox), on real PostgreSQL, runs executed in this process
against a loopback target."""

from __future__ import annotations

import pytest

from jobs import dispatch, runner, services
from jobs.models import Job, JobStatus, Run, RunStatus
from notifications.models import Channel, Notification, Rule

pytestmark = pytest.mark.django_db(transaction=True)


def _job(api, target, path: str, **extra) -> Job:
    body = {
        "task": {"method": "GET", "uri": target.url + path},
        "schedule": {"every": "1h"},
        "start_at": "1h",
        **extra,
    }
    response = api.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 201, response.json()
    return Job.objects.get(id=response.json()["id"])


def _fire(job: Job) -> Run:
    """A fire of the job now (a manual run), executed here; the run, refreshed."""
    run = services.job_run_now(job=job)
    runner.execute(str(run.id))
    run.refresh_from_db()
    job.refresh_from_db()
    return run


def _rule(job: Job, **extra) -> Rule:
    channel = Channel.objects.create(
        owner=job.owner, name="ops", kind="webhook", url="http://127.0.0.1:9/hook"
    )
    return Rule.objects.create(
        owner=job.owner, channel=channel, job=job, on=["failure", "recovery"], **extra
    )


def _events(job: Job) -> list[str]:
    return list(
        Notification.objects.filter(job=job).order_by("created_at").values_list("event", flat=True)
    )


def test_a_new_job_is_of_unknown_health(api, target):
    job = _job(api, target, "/ok")
    assert (job.health, job.consecutive_failures) == ("unknown", 0)


def test_failures_count_and_a_success_resets(api, target):
    job = _job(api, target, "/status/500")
    for n in (1, 2, 3):
        assert _fire(job).status == RunStatus.FAILED
        assert (job.health, job.consecutive_failures) == ("failing", n)
    job.task = {**job.task, "uri": target.url + "/ok"}
    job.save()
    assert _fire(job).status == RunStatus.SUCCEEDED
    assert (job.health, job.consecutive_failures) == ("ok", 0)


def test_a_failing_job_sends_one_failure_then_one_recovery(api, target):
    job = _job(api, target, "/status/500")
    _rule(job)
    for _ in range(4):
        _fire(job)
    assert _events(job) == ["failure"]
    job.task = {**job.task, "uri": target.url + "/ok"}
    job.save()
    _fire(job)
    _fire(job)  # a second success is no recovery
    assert _events(job) == ["failure", "recovery"]


def test_every_failure_sends_each_failed_fire(api, target):
    job = _job(api, target, "/status/500")
    _rule(job, every_failure=True)
    for _ in range(3):
        _fire(job)
    assert _events(job) == ["failure"] * 3


def test_retries_of_one_fire_send_one_failure(api, target):
    job = _job(api, target, "/status/500", retry={"max_attempts": 3, "delay": "1ms", "jitter": 0})
    _rule(job, every_failure=True)
    run = _fire(job)
    for _ in range(2):  # the retries: attempts 2 and 3 of the same fire
        run = Run.objects.get(idempotency_key=run.idempotency_key, attempt=run.attempt + 1)
        runner.execute(str(run.id))
    job.refresh_from_db()
    assert Run.objects.filter(job=job).count() == 3
    assert _events(job) == ["failure"]
    assert job.consecutive_failures == 1


def test_a_success_on_the_fast_path_sends_success_when_asked(api, target):
    job = _job(api, target, "/ok")
    _rule(job).delete()
    channel = Channel.objects.get(owner=job.owner)
    Rule.objects.create(owner=job.owner, channel=channel, job=job, on=["success"])
    _fire(job)
    _fire(job)
    assert _events(job) == ["success", "success"]
    assert job.health == "ok"


def test_owner_and_namespace_rules_match_their_jobs_only(api, target, bob_api):
    ops = _job(api, target, "/status/500", product="shop", group="ops")
    web = _job(api, target, "/status/500", product="shop", group="web")
    bobs = _job(bob_api, target, "/status/500", product="shop", group="ops")
    channel = Channel.objects.create(owner=ops.owner, name="all", kind="slack", url="http://x")
    Rule.objects.create(owner=ops.owner, channel=channel, on=["failure"])  # all of alice's
    Rule.objects.create(owner=ops.owner, channel=channel, on=["failure"], group="ops")
    for job in (ops, web, bobs):
        _fire(job)
    # Two rules to one channel make one notification per event of a fire.
    assert _events(ops) == ["failure"]
    assert _events(web) == ["failure"]
    assert _events(bobs) == []


def test_pause_after_failures_pauses_and_says_why(api, target):
    job = _job(api, target, "/status/500")
    Job.objects.filter(id=job.id).update(pause_after_failures=3)
    job.refresh_from_db()
    _rule(job)  # failure and recovery, the default: a rule that hears failures hears the pause
    _fire(job)
    _fire(job)
    assert job.status == JobStatus.SCHEDULED
    _fire(job)
    assert job.status == JobStatus.PAUSED
    assert job.next_run_at is None
    assert "3 failed fires in a row" in job.status_reason
    assert _events(job) == ["failure", "paused"]
    resumed = services.job_resume(job=job)
    assert (resumed.status, resumed.status_reason) == (JobStatus.SCHEDULED, "")
    assert (resumed.health, resumed.consecutive_failures) == ("failing", 0)


def test_a_skipped_fire_is_an_event_and_leaves_health(api, target):
    job = _job(api, target, "/slow/2", concurrency="forbid")
    rule = _rule(job)
    rule.on = ["skipped"]
    rule.save()
    running = services.job_run_now(job=job)
    runner.claim(str(running.id))  # running now (its worker is elsewhere)
    skipped = services.job_run_now(job=job)
    assert runner.claim(str(skipped.id)) is None
    skipped.refresh_from_db()
    assert skipped.status == RunStatus.SKIPPED
    assert _events(job) == ["skipped"]
    job.refresh_from_db()
    assert job.health == "unknown"


def test_a_missed_fire_is_an_event(api, target):
    job = _job(api, target, "/ok", misfire_grace=0)
    rule = _rule(job)
    rule.on = ["missed"]
    rule.save()
    Job.objects.filter(id=job.id).update(next_run_at=job.next_run_at.replace(year=2020))
    dispatch.plan_due_fires()
    assert Run.objects.get(job=job).status == RunStatus.MISSED
    assert _events(job) == ["missed"]


def test_the_outbox_rolls_back_with_the_outcome(api, target):
    """A notification exists only if the outcome it tells of was committed."""
    from django.db import transaction

    job = _job(api, target, "/status/500")
    _rule(job)
    run = services.job_run_now(job=job)
    claimed = runner.claim(str(run.id))

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        from executors.base import Outcome

        runner.finish(claimed, Outcome(RunStatus.FAILED, {}, "boom"))
        assert _events(job) == ["failure"]
        raise Abort
    assert _events(job) == []
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
