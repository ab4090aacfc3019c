"""Delivering notifications from the outbox to real loopback receivers: signatures, the
idempotency key, retries with backoff, leases, the sweeper, egress, the fair pool."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from jobs.models import Job
from notifications import delivery, signing, sweeper
from notifications.models import Channel, Delivery, Notification
from notifications.pool import FairPool

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec-test-0123456789"


@pytest.fixture
def job(alice):
    return Job.objects.create(
        owner=alice,
        name="nightly backup",
        type="http",
        task={"method": "GET", "uri": "http://127.0.0.1:9/"},
        schedule={"every": 3600},
        schedule_kind="interval",
        health="failing",
        consecutive_failures=1,
    )


def _channel(owner, url: str, kind: str = "webhook", **extra) -> Channel:
    return Channel.objects.create(owner=owner, name="ops", kind=kind, url=url, **extra)


def _notification(channel: Channel, job: Job | None = None, **extra) -> Notification:
    return Notification.objects.create(
        channel=channel, event="failure", job=job, next_attempt_at=timezone.now(), **extra
    )


def test_a_webhook_is_signed_and_keyed(alice, job, target, settings):
    settings.PUBLIC_URL = "https://sched.example.com"
    notification = _notification(_channel(alice, target.url + "/hook", secret=SECRET), job)
    assert delivery.deliver(str(notification.id)) == "delivered"
    (request,) = target.received
    headers = request["headers"]
    assert signing.verify(
        SECRET, headers["X-Sched-Signature"], request["body"], now=int(time.time())
    )
    assert not signing.verify(
        "another", headers["X-Sched-Signature"], request["body"], now=int(time.time())
    )
    assert headers["Idempotency-Key"] == str(notification.id)
    assert headers["X-Sched-Event"] == "failure"
    assert headers["Content-Type"] == "application/json"
    body = json.loads(request["body"])
    assert body["event"] == "failure"
    assert body["job"]["name"] == "nightly backup"
    assert body["job"]["link"] == f"https://sched.example.com/api/v1/jobs/{job.id}"
    assert body["job"]["health"] == "failing"
    notification.refresh_from_db()
    assert notification.status == "delivered"
    (attempt,) = Delivery.objects.filter(notification=notification)
    assert (attempt.delivered, attempt.status_code, attempt.attempt) == (True, 200, 1)


def test_a_failed_attempt_is_retried_later_with_the_same_bytes(alice, job, target, settings):
    settings.SCHED = {**settings.SCHED, "NOTIFY_BACKOFF": 30.0}
    channel = _channel(alice, target.url + "/status/503", secret=SECRET)
    notification = _notification(channel, job)
    assert delivery.deliver(str(notification.id)) == "pending"
    notification.refresh_from_db()
    wait = (notification.next_attempt_at - timezone.now()).total_seconds()
    assert 25 < wait <= 30
    assert "503" in notification.last_error
    # Not due yet: another message for it (a duplicate) does nothing.
    assert delivery.deliver(str(notification.id)) is None
    Channel.objects.filter(id=channel.id).update(url=target.url + "/hook")
    Notification.objects.filter(id=notification.id).update(next_attempt_at=timezone.now())
    assert delivery.deliver(str(notification.id)) == "delivered"
    first, second = target.received
    assert first["body"] == second["body"]
    assert first["headers"]["Idempotency-Key"] == second["headers"]["Idempotency-Key"]
    attempts = list(Delivery.objects.order_by("attempt").values_list("attempt", "delivered"))
    assert attempts == [(1, False), (2, True)]


def test_backoff_doubles_up_to_its_cap(settings):
    settings.SCHED = {**settings.SCHED, "NOTIFY_BACKOFF": 10.0, "NOTIFY_BACKOFF_MAX": 60.0}
    waits = [delivery.backoff(n).total_seconds() for n in range(1, 6)]
    assert waits == [10, 20, 40, 60, 60]


def test_it_gives_up_after_the_retry_window(alice, job, target, settings):
    settings.SCHED = {**settings.SCHED, "NOTIFY_RETRY_FOR": 60.0, "NOTIFY_BACKOFF": 30.0}
    notification = _notification(_channel(alice, target.url + "/status/500"), job)
    Notification.objects.filter(id=notification.id).update(
        created_at=timezone.now() - timedelta(seconds=50)
    )
    assert delivery.deliver(str(notification.id)) == "failed"


def test_a_leased_notification_is_not_sent_twice_until_the_lease_runs_out(alice, job, target):
    notification = _notification(_channel(alice, target.url + "/hook"), job)
    Notification.objects.filter(id=notification.id).update(
        leased_until=timezone.now() + timedelta(seconds=30)
    )
    assert delivery.deliver(str(notification.id)) is None  # another worker holds it
    Notification.objects.filter(id=notification.id).update(
        leased_until=timezone.now() - timedelta(seconds=1)
    )
    assert delivery.deliver(str(notification.id)) == "delivered"  # that worker died
    assert delivery.deliver(str(notification.id)) is None  # delivered: never again
    assert len(target.received) == 1


def test_an_address_the_owner_may_not_reach_fails_at_once(alice, job, target, settings):
    settings.SCHED = {**settings.SCHED, "EGRESS_ALLOW": [], "EGRESS_DENY": []}
    notification = _notification(_channel(alice, target.url + "/hook"), job)
    assert delivery.deliver(str(notification.id)) == "failed"
    notification.refresh_from_db()
    assert "loopback" in notification.last_error
    assert target.received == []


def test_slack_gets_text(alice, job, target):
    notification = _notification(_channel(alice, target.url + "/slack", kind="slack"), job)
    assert delivery.deliver(str(notification.id)) == "delivered"
    body = json.loads(target.received[0]["body"])
    assert list(body) == ["text"]
    assert "nightly backup failed" in body["text"]


def test_email_goes_through_django_mail(alice, job, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    channel = Channel.objects.create(owner=alice, name="mail", kind="email", to=["ops@x.org"])
    notification = _notification(channel, job)
    assert delivery.deliver(str(notification.id)) == "delivered"
    (message,) = mail.outbox
    assert message.to == ["ops@x.org"]
    assert "nightly backup failed" in message.subject
    assert message.extra_headers["Message-ID"] == f"<{notification.id}@sched>"


def test_the_test_message_is_one_recorded_attempt(alice, target):
    channel = _channel(alice, target.url + "/status/500")
    notification = delivery.send_test(channel)
    assert (notification.status, notification.event) == ("failed", "test")
    (attempt,) = Delivery.objects.filter(channel=channel)
    assert (attempt.delivered, attempt.status_code) == (False, 500)


def test_the_sweeper_publishes_again_what_was_lost(alice, job, target, settings):
    settings.SCHED = {**settings.SCHED, "NOTIFY_REPUBLISH_AFTER": 30.0}
    channel = _channel(alice, target.url + "/hook")
    long_ago = timezone.now() - timedelta(seconds=60)
    lost = _notification(channel, job)
    Notification.objects.filter(id=lost.id).update(next_attempt_at=long_ago, queued_at=long_ago)
    fresh = _notification(channel, job, queued_at=timezone.now())
    held = _notification(channel, job, leased_until=timezone.now() + timedelta(seconds=30))
    Notification.objects.filter(id__in=[fresh.id, held.id]).update(next_attempt_at=long_ago)
    assert sweeper.sweep() == 1
    lost.refresh_from_db()
    assert lost.queued_at > long_ago
    assert sweeper.sweep() == 0  # published just now


def test_one_owner_holds_at_most_its_share_of_the_delivery_threads():
    pool = FairPool(threads=2, per_owner=1)
    hang = threading.Event()
    done = threading.Event()
    started = []
    for _ in range(5):  # a hostile owner's receivers hang
        pool.submit("mallory", lambda: (started.append("mallory"), hang.wait(10)))
    pool.submit("alice", lambda: (started.append("alice"), done.set()))
    assert done.wait(2), "alice waited behind mallory's hanging deliveries"
    assert started.count("mallory") == 1
    hang.set()
    deadline = time.monotonic() + 5
    while not pool.idle() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert started.count("mallory") == 5
