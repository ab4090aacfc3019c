"""The outbox and a delivery, on PostgreSQL's statements (notifications/pg.py,
notifications/delivery_sql.py) and on the portable ORM path other databases take: both
leave the same rows and send the same request, and keep the delivery's promises (one
POST per delivered notification, the kept body sent again as it was, a notification
held by another worker left alone)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import Job
from jobs.signals import FireEnd
from notifications import delivery, outbox, pg, publish
from notifications.models import Channel, Delivery, Notification, Rule
from notifications.signing import HEADER, verify
from tests.broker import messages

from .helpers import http_job

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec-test"


@pytest.fixture(params=["postgresql", "portable"])
def path(request, monkeypatch) -> str:
    """Each test on both paths: the portable one is what SQLite takes."""
    if request.param == "portable":
        monkeypatch.setattr(pg, "enabled", lambda: False)
    return request.param


def make_job(api, **extra) -> Job:
    response = api.post("/api/v1/jobs", http_job(**extra), format="json")
    assert response.status_code == 201, response.data
    return Job.objects.get(id=response.json()["id"])


@pytest.fixture
def job(api) -> Job:
    return make_job(api, product="shop")


def channel(owner, url: str, name: str = "hook") -> Channel:
    return Channel.objects.create(owner=owner, name=name, kind="webhook", url=url, secret=SECRET)


def failed_fire(job: Job, run_id=None) -> FireEnd:
    run = job.runs.create(
        job_revision=job.revision,
        due_at=timezone.now(),
        status="failed",
        finished_at=timezone.now(),
        error="Status 500 is outside the expected range 200-299.",
        idempotency_key=job.id,
    )
    return FireEnd(
        job_id=job.id,
        owner_id=job.owner_id,
        product=job.product,
        group=job.group,
        run_id=run.id,
        status="failed",
        events=("failure",),
        failures=1,
    )


def test_one_notification_per_channel_and_event_from_the_job_and_owner_rules(
    path, alice, bob, job, broker
):
    mine, other = channel(alice, "http://127.0.0.1:9/a"), channel(alice, "http://127.0.0.1:9/b")
    Rule.objects.create(owner=alice, channel=mine, job=job, on=["failure", "recovery"])
    Rule.objects.create(owner=alice, channel=mine, product="shop", on=["failure"])  # same channel
    Rule.objects.create(owner=alice, channel=other, product="bank", on=["failure"])  # not this job
    Rule.objects.create(owner=alice, channel=other, on=["recovery"])  # not this event
    Rule.objects.create(owner=bob, channel=channel(bob, "http://127.0.0.1:9/c"), on=["failure"])
    end = failed_fire(job)
    outbox.on_fires_ended(None, [end])
    [notification] = Notification.objects.all()
    assert (notification.channel_id, notification.event) == (mine.id, "failure")
    assert (notification.job_id, notification.run_id) == (job.id, end.run_id)
    assert (notification.status, notification.attempts) == ("pending", 0)
    assert notification.leased_until is None and notification.last_error == ""
    if path == "postgresql":  # the body is made with the notification, by the same code
        assert notification.body["run"] == {**notification.body["run"], "status": "failed"}
        assert notification.body["job"]["id"] == str(job.id)
    else:  # made at its first claim
        assert notification.body is None
    assert notification.next_attempt_at == notification.queued_at <= notification.created_at
    [message] = messages(broker, publish.QUEUE)
    assert message["headers"]["task"] == publish.DELIVER
    assert message["body"][0] == [[[str(notification.id), alice.id]]]


def test_a_worker_that_delivers_takes_its_new_notifications_without_a_message(
    path, alice, job, broker, target
):
    Rule.objects.create(
        owner=alice, channel=channel(alice, f"{target.url}/hook"), job=job, on=["failure"]
    )
    handed: list = []
    publish.deliver_here(lambda items, leased: handed.append((items, leased)))
    try:
        outbox.on_fires_ended(None, [failed_fire(job)])
    finally:
        publish.deliver_here(None)
    notification = Notification.objects.get()
    [(items, leased)] = handed
    assert items == [(notification.id, alice.id)]
    assert broker.llen(publish.QUEUE) == 0
    if path == "portable":
        assert leased is None and notification.leased_until is None
        return
    # PostgreSQL: handed over leased to this process, its attempt counted, ready to send
    # without a claim: the body and lease it carries are the row's.
    assert notification.leased_until is not None and notification.attempts == 1
    ready = leased[notification.id]
    assert (ready.lease, ready.attempts, ready.body) == (
        notification.leased_until,
        1,
        notification.body,
    )
    assert delivery.deliver_many([ready]) == {str(notification.id): "delivered"}
    notification.refresh_from_db()
    assert notification.attempts == 1 and notification.status == "delivered"
    assert Delivery.objects.get().attempt == 1


def made_here(alice, job: Job, target):
    """A failure notification made by a worker that delivers it itself: what its delivery
    threads are handed, leased to them."""
    hook = channel(alice, f"{target.url}/hook")
    Rule.objects.create(owner=alice, channel=hook, job=job, on=["failure"])
    handed: list = []
    publish.deliver_here(lambda items, leased: handed.extend(leased.values()))
    try:
        outbox.on_fires_ended(None, [failed_fire(job)])
    finally:
        publish.deliver_here(None)
    [ready] = handed
    return ready


def test_a_leased_notification_that_waited_too_long_is_claimed_again_not_counted_twice(
    alice, job, target, settings
):
    ready = made_here(alice, job, target)
    # Its lease no longer covers a send at the time-out: the claim renews the lease it holds.
    settings.SCHED = {**settings.SCHED, "NOTIFY_TIMEOUT": settings.SCHED["NOTIFY_LEASE"]}
    assert delivery.deliver_many([ready]) == {str(ready.id): "delivered"}
    notification = Notification.objects.get()
    assert notification.attempts == 1 and len(target.received) == 1
    assert json.loads(target.received[0]["body"]) == notification.body


def test_a_leased_notification_another_worker_took_over_is_left_to_it(alice, job, target):
    ready = made_here(alice, job, target)
    ready.lease = timezone.now()  # as if it waited here past its lease...
    taken = timezone.now() + timedelta(minutes=1)  # ...and another worker claimed it since
    Notification.objects.filter(id=ready.id).update(leased_until=taken)
    assert delivery.deliver_many([ready]) == {}
    assert target.received == [] and Notification.objects.get().leased_until == taken


def pending(job: Job, hook: Channel, **fields) -> Notification:
    Rule.objects.create(owner=hook.owner, channel=hook, job=job, on=["failure"])
    outbox.on_fires_ended(None, [failed_fire(job)])
    notification = Notification.objects.get()
    Notification.objects.filter(id=notification.id).update(**fields)
    return notification


def test_a_delivery_posts_once_signed_and_records_one_attempt(path, alice, job, target):
    notification = pending(job, channel(alice, f"{target.url}/hook"))
    assert delivery.deliver(str(notification.id)) == "delivered"
    assert delivery.deliver(str(notification.id)) is None  # delivered: not tried again
    [request] = target.received
    notification.refresh_from_db()
    assert notification.status == "delivered" and notification.delivered_at is not None
    assert notification.attempts == 1 and notification.leased_until is None
    assert json.loads(request["body"]) == notification.body
    assert notification.body["job"]["id"] == str(job.id)
    assert notification.body["run"]["status"] == "failed"
    assert request["headers"]["Idempotency-Key"] == str(notification.id)
    assert request["headers"]["X-Sched-Event"] == "failure"
    now = int(timezone.now().timestamp())
    assert verify(SECRET, request["headers"][HEADER], request["body"], now=now)
    [attempt] = Delivery.objects.all()
    assert (attempt.notification_id, attempt.channel_id) == (
        notification.id,
        notification.channel_id,
    )
    assert (attempt.attempt, attempt.delivered, attempt.status_code, attempt.error) == (
        1,
        True,
        200,
        "",
    )
    assert attempt.at == notification.delivered_at


def test_the_body_kept_by_an_earlier_attempt_is_sent_again_as_it_was(path, alice, job, target):
    """Byte for byte: keys in order whatever order PostgreSQL's jsonb keeps them in."""
    kept = {
        "id": "x",
        "event": "failure",
        "job": None,
        "run": None,
        "sent_at": "2026-01-01T00:00:00Z",
    }
    notification = pending(
        job,
        channel(alice, f"{target.url}/hook"),
        body=kept,
        attempts=1,
        leased_until=timezone.now() - timedelta(seconds=1),  # its worker died sending it
    )
    assert delivery.deliver(str(notification.id)) == "delivered"
    [request] = target.received
    assert request["body"] == json.dumps(kept, separators=(",", ":"), sort_keys=True).encode()
    notification.refresh_from_db()
    assert notification.body == kept and notification.attempts == 2
    assert Delivery.objects.get().attempt == 2


def test_a_notification_held_by_another_worker_or_not_due_is_left_alone(path, alice, job, target):
    hook = channel(alice, f"{target.url}/hook")
    held = pending(job, hook, leased_until=timezone.now() + timedelta(seconds=30))
    assert delivery.deliver(str(held.id)) is None
    Notification.objects.filter(id=held.id).update(
        leased_until=None, next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    assert delivery.deliver(str(held.id)) is None
    assert target.received == [] and not Delivery.objects.exists()
    before = held.body
    held.refresh_from_db()
    assert (held.status, held.attempts, held.body) == ("pending", 0, before)


def test_a_refusing_receiver_is_tried_again_after_the_backoff(path, alice, job, target, broker):
    notification = pending(job, channel(alice, f"{target.url}/status/503"))
    before = timezone.now()
    assert delivery.deliver(str(notification.id)) == "pending"
    notification.refresh_from_db()
    assert notification.status == "pending" and notification.attempts == 1
    assert notification.body is not None and notification.leased_until is None
    assert notification.next_attempt_at >= before + delivery.backoff(1)
    assert "503" in notification.last_error
    [attempt] = Delivery.objects.all()
    assert (attempt.attempt, attempt.delivered, attempt.status_code) == (1, False, 503)


def test_a_batch_claims_together_and_sends_in_order_leaving_what_is_not_its_own(
    path, api, alice, target
):
    hook = channel(alice, f"{target.url}/hook")
    jobs = [make_job(api, name=f"job {i}") for i in range(3)]
    for job in jobs:
        Rule.objects.create(owner=alice, channel=hook, job=job, on=["failure"])
    ends = [failed_fire(job) for job in jobs]
    outbox.on_fires_ended(None, ends)
    first, held, last = (Notification.objects.get(run_id=end.run_id) for end in ends)
    Notification.objects.filter(id=held.id).update(
        leased_until=timezone.now() + timedelta(seconds=30)
    )
    ids = [str(first.id), str(held.id), str(last.id)]
    assert delivery.deliver_many(ids) == {str(first.id): "delivered", str(last.id): "delivered"}
    keys = [request["headers"]["Idempotency-Key"] for request in target.received]
    assert keys == [str(first.id), str(last.id)]
    held.refresh_from_db()
    assert (held.status, held.attempts) == ("pending", 0)
    assert sorted(Delivery.objects.values_list("attempt", flat=True)) == [1, 1]
    done = Notification.objects.filter(status="delivered", delivered_at__isnull=False)
    assert set(done.values_list("id", flat=True)) == {first.id, last.id}
