"""Publishing planned runs to Redis: the messages a worker gets, and a broker that fails."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from jobs import dispatch, reaper
from jobs.models import Job, RunStatus
from jobs.publish import publish
from jobs.tasks import execute_run
from tests.broker import messages, queued, run_ids

from .helpers import http_job

pytestmark = pytest.mark.django_db


def test_a_message_is_the_one_apply_async_sends(broker):
    """Same task, args, queue, eta, expires and options: the worker cannot tell them apart."""
    run_id = uuid.uuid4()
    due = timezone.now() + timedelta(seconds=2)
    expires = due + timedelta(seconds=settings.SCHED["MESSAGE_EXPIRES"])
    execute_run.apply_async(args=[str(run_id)], queue="http", eta=due, expires=expires)
    assert publish([(run_id, "http", due)]) == 1

    reference, ours = messages(broker, "http")
    ids = ("id", "root_id")
    assert {k: v for k, v in ours["headers"].items() if k not in ids} == {
        k: v for k, v in reference["headers"].items() if k not in ids
    }
    assert ours["headers"]["root_id"] == ours["headers"]["id"] != reference["headers"]["id"]
    assert ours["headers"]["task"] == "jobs.execute_run"
    assert ours["headers"]["eta"] == due.isoformat()
    assert ours["headers"]["expires"] == expires.isoformat()
    assert ours["body"] == reference["body"] == [[str(run_id)], {}, ours["body"][2]]
    varying = ("correlation_id", "delivery_tag", "expiration")
    assert {k: v for k, v in ours["properties"].items() if k not in varying} == {
        k: v for k, v in reference["properties"].items() if k not in varying
    }
    assert ours["properties"]["correlation_id"] == ours["headers"]["id"]
    assert ours["properties"]["delivery_info"] == {"exchange": "", "routing_key": "http"}
    # The broker-side TTL: until `expires`, in milliseconds, as apply_async computes it.
    ttl = int(ours["properties"]["expiration"])
    assert abs(ttl - int(reference["properties"]["expiration"])) < 1000
    assert ours["content-type"] == reference["content-type"] == "application/json"


def test_a_run_already_due_goes_without_eta_and_expires_from_now(broker):
    due = timezone.now() - timedelta(seconds=30)
    before = timezone.now()
    assert publish([(uuid.uuid4(), "http", due)]) == 1
    (message,) = messages(broker, "http")
    assert message["headers"]["eta"] is None
    expires = datetime.fromisoformat(message["headers"]["expires"])
    after = timedelta(seconds=settings.SCHED["MESSAGE_EXPIRES"])
    assert before + after <= expires <= timezone.now() + after


def bodies(broker, queue: str) -> list[list]:
    """The run ids of each message in a queue: [id] for jobs.execute_run, [ids, dues]
    for jobs.execute_runs (a bundle)."""
    return [m["body"][0] for m in messages(broker, queue)]


def queued_ids(broker, queue: str) -> list[str]:
    """Every run id queued, in order, whether sent alone or in bundles."""
    return [run_id for message in messages(broker, queue) for run_id in run_ids(message)]


def test_each_run_goes_to_the_queue_of_its_task_type(broker):
    now = timezone.now()
    runs = [(uuid.uuid4(), "http", now) for _ in range(3)]
    runs.append((uuid.uuid4(), "command", now))
    assert publish(runs) == 4
    assert queued_ids(broker, "http") == [str(r[0]) for r in runs[:3]]
    assert bodies(broker, "command") == [[str(runs[3][0])]]


def test_runs_due_together_go_in_one_message_with_their_due_times(broker):
    """A bundle: jobs.execute_runs(run ids, due times as epoch seconds), its ETA the first
    due time and its expiry the last due time's."""
    first = timezone.now() + timedelta(seconds=3)
    dues = [first, first + timedelta(milliseconds=20), first + timedelta(milliseconds=40)]
    runs = [(uuid.uuid4(), "http", due) for due in dues]
    assert publish(reversed(runs)) == 3  # published in any order, bundled in due order

    (message,) = messages(broker, "http")
    assert message["headers"]["task"] == "jobs.execute_runs"
    assert message["body"][0] == [[str(r[0]) for r in runs], [due.timestamp() for due in dues]]
    assert message["headers"]["eta"] == first.isoformat()
    expires = dues[-1] + timedelta(seconds=settings.SCHED["MESSAGE_EXPIRES"])
    assert message["headers"]["expires"] == expires.isoformat()
    assert message["headers"]["argsrepr"] == f"[3 runs, first {runs[0][0]}]"


def test_a_bundle_spans_at_most_the_window_and_the_size(broker, settings):
    settings.SCHED = {**settings.SCHED, "DISPATCH_BUNDLE": 3, "DISPATCH_BUNDLE_WINDOW": 0.05}
    t0 = timezone.now() + timedelta(seconds=3)
    at = [0, 10, 20, 30, 60, 100, 111, 200]  # milliseconds after t0
    runs = [(uuid.uuid4(), "http", t0 + timedelta(milliseconds=ms)) for ms in at]
    assert publish(runs) == len(runs)
    # 0-20 (size 3), 30-60 (100 is 70 ms after 30), 100-111, 200 alone.
    groups = [[at[i] for i in (0, 1, 2)], [30, 60], [100, 111], [200]]
    ids = {ms: str(run[0]) for ms, run in zip(at, runs, strict=True)}
    assert bodies(broker, "http") == [
        [[ids[ms] for ms in group], [(t0 + timedelta(milliseconds=ms)).timestamp() for ms in group]]
        if len(group) > 1
        else [ids[group[0]]]
        for group in groups
    ]


def test_runs_of_other_queues_do_not_break_a_bundle_and_go_one_per_message(broker):
    """Only the queues in DISPATCH_BUNDLE_QUEUES (http) are bundled: a command's run is a
    process or more, far above a message's cost, and goes alone to spread over workers."""
    now = timezone.now()
    runs = [(uuid.uuid4(), kind, now) for kind in ("http", "command", "http", "command", "http")]
    assert publish(runs) == 5
    assert bodies(broker, "http") == [[[str(r[0]) for r in runs[::2]], [now.timestamp()] * 3]]
    assert bodies(broker, "command") == [[str(r[0])] for r in runs[1::2]]


def test_the_bundled_queues_are_a_setting(broker, settings):
    settings.SCHED = {**settings.SCHED, "DISPATCH_BUNDLE_QUEUES": ["command"]}
    now = timezone.now()
    runs = [(uuid.uuid4(), kind, now) for kind in ("http", "command", "http", "command")]
    assert publish(runs) == 4
    assert bodies(broker, "http") == [[str(r[0])] for r in runs[::2]]
    assert bodies(broker, "command") == [[[str(r[0]) for r in runs[1::2]], [now.timestamp()] * 2]]


def test_a_bundle_size_of_one_sends_a_message_per_run(broker, settings):
    settings.SCHED = {**settings.SCHED, "DISPATCH_BUNDLE": 1}
    now = timezone.now()
    runs = [(uuid.uuid4(), "http", now) for _ in range(3)]
    assert publish(runs) == 3
    assert bodies(broker, "http") == [[str(r[0])] for r in runs]


def test_thousands_of_runs_are_all_sent_in_order(broker):
    runs = [(uuid.uuid4(), "http", timezone.now()) for _ in range(2500)]  # 3 pipelines
    assert publish(iter(runs)) == 2500
    assert queued_ids(broker, "http") == [str(r[0]) for r in runs]
    size = settings.SCHED["DISPATCH_BUNDLE"]
    assert len(messages(broker, "http")) >= 2500 // size


def test_a_run_of_an_unknown_task_type_is_skipped_the_others_go(broker, caplog):
    good = uuid.uuid4()
    assert publish([(uuid.uuid4(), "no-such-type", timezone.now()), (good, "http", timezone.now())])
    assert bodies(broker, "http") == [[str(good)]]
    assert "publish failed" in caplog.text


def make_job(api, schedule="1s", **extra) -> Job:
    response = api.post("/api/v1/jobs", http_job(schedule, **extra), format="json")
    assert response.status_code == 201, response.data
    return Job.objects.get(id=response.json()["id"])


@pytest.mark.smoke  # also on SQLite: the portable path
def test_when_the_broker_refuses_the_batch_runs_stay_pending_for_the_reaper(
    api, broker, caplog, settings
):
    settings.SCHED = {**settings.SCHED, "DISPATCH_BATCH": 10}
    jobs = [make_job(api, {"every": "1h"}, start_at="1s") for _ in range(25)]
    # Redis answers every LPUSH to the queue with an error (WRONGTYPE): the pipeline fails.
    broker.set("http", "not a list")
    with caplog.at_level(logging.WARNING, logger="jobs.publish"):
        assert dispatch.dispatch() == 25  # planned; dispatch itself does not fail
    assert "publish failed" in caplog.text
    assert broker.get("http") == b"not a list"
    for job in jobs:
        (run,) = job.runs.all()
        assert run.status == RunStatus.PENDING
        job.refresh_from_db()
        assert job.next_run_at > timezone.now()  # the fire was planned all the same

    # The broker is back: the reaper publishes every run still pending, once.
    broker.delete("http")
    later = timezone.now() + timedelta(seconds=settings.SCHED["REPUBLISH_AFTER"] + 5)
    while reaper.republish_stale_pending(later):
        pass
    published = sorted(queued_ids(broker, "http"))
    assert published == sorted(str(j.runs.get().id) for j in jobs)
    assert queued(broker, "http") == 25
