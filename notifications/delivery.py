"""Deliver notifications from the outbox: claim, send, record the attempt, retry later.

A worker claims a pending notification whose time has come by taking a lease on it
(NOTIFY_LEASE seconds); a worker killed while sending holds it no longer than that. After
a failed attempt the next waits NOTIFY_BACKOFF, doubling up to NOTIFY_BACKOFF_MAX, until
NOTIFY_RETRY_FOR after the notification was made; then it is `failed`. A refused address
fails at once (trying again cannot help). Every attempt is a Delivery row.

Messages only wake the workers: the sweeper (notifications/sweeper.py, run by beat)
publishes again what is due and was not published for NOTIFY_REPUBLISH_AFTER, so a Redis
flush or a dead worker delays a notification and loses none. A notification sent and then
not recorded (the worker died in between) is sent again with the same Idempotency-Key,
which a receiver drops.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from jobs import metrics

from . import delivery_sql, pg, senders
from .models import Channel, Delivery, Notification, NotificationStatus
from .payloads import TEST_EVENT, body_of
from .publish import publish_notifications
from .rows import Claimed

log = logging.getLogger(__name__)

_EARLY = timedelta(seconds=1)  # a message due at next_attempt_at may come a little early
MAX_BATCH = 8  # notifications of one owner claimed together (notifications/pool.py)


def _seconds(name: str) -> timedelta:
    return timedelta(seconds=settings.SCHED[name])


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt."""
    seconds = settings.SCHED["NOTIFY_BACKOFF"] * 2.0 ** min(attempts - 1, 60)
    return timedelta(seconds=min(seconds, settings.SCHED["NOTIFY_BACKOFF_MAX"]))


def batch_size() -> int:
    """How many waiting notifications of one owner a delivery thread claims at once: as
    many as one lease covers if each receiver takes its whole time-out, at most
    MAX_BATCH."""
    sched = settings.SCHED
    fits = int(sched["NOTIFY_LEASE"] // max(sched["NOTIFY_TIMEOUT"], 0.001)) - 1
    return max(1, min(MAX_BATCH, fits))


def deliver(notification_id: str) -> str | None:
    """One attempt at a notification; its status after it, or None if it was not ours to
    try (delivered, failed, held by another worker, or not yet due)."""
    return deliver_many([str(notification_id)]).get(str(notification_id))


def deliver_many(items: list) -> dict[str, str]:
    """One attempt at each of these notifications (ids, or notifications the outbox leased
    to this process: notifications/rows.py), the ids claimed together under one lease, sent
    one after the other; the status after it of each that was ours to try."""
    now = timezone.now()
    lease = now + _seconds("NOTIFY_LEASE")
    ready, ids, held = [], [], {}
    # A leased one is sent under its lease if that covers this batch's sends at their
    # time-out; one that waited here longer has its lease renewed by the claim.
    enough = now + _seconds("NOTIFY_TIMEOUT") * len(items)
    for item in items:
        if isinstance(item, Claimed):
            if item.lease > enough:
                ready.append(item)
                continue
            held[str(item.id)] = item.lease
        ids.append(str(getattr(item, "id", item)))
    if ids and pg.enabled():
        ready += delivery_sql.claim(ids, now=now, due=now + _EARLY, lease=lease, held=held)
    elif ids:
        ready += [n for n in (_claim(i, now, lease) for i in ids) if n]
    statuses: dict[str, str] = {}
    delivered: list[tuple] = []  # recorded together once the batch is sent (PostgreSQL)
    try:
        for notification in ready:
            try:
                started = time.monotonic()
                attempt = senders.send(
                    notification.channel, notification.body, str(notification.id)
                )
                if attempt.delivered and pg.enabled():
                    ms = int((time.monotonic() - started) * 1000)
                    delivered.append((notification, timezone.now(), attempt.status_code, ms))
                    continue
                holds = getattr(notification, "lease", None) or lease
                statuses[str(notification.id)] = _record(notification, attempt, started, holds)
            except Exception:  # this one only: its lease runs out and the sweeper tries again
                log.exception("notification delivery failed notification=%s", notification.id)
    finally:
        # A worker that dies before this sends the batch's again, with the same
        # Idempotency-Key each: the price of one statement for them all.
        if delivered:
            delivery_sql.delivered(delivered)
            for notification, *_ in delivered:
                statuses[str(notification.id)] = NotificationStatus.DELIVERED
                metrics.delivery(notification.channel.kind, "delivered")
    return statuses


def _claim(notification_id: str, now, lease) -> Notification | None:
    """The portable claim: take the lease, then read the notification and keep its body."""
    claimed = (
        Notification.objects.filter(
            id=notification_id,
            status=NotificationStatus.PENDING,
            next_attempt_at__lte=now + _EARLY,
        )
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .update(leased_until=lease, attempts=F("attempts") + 1)
    )
    if not claimed:
        return None
    notification = Notification.objects.select_related("channel", "job", "run").get(
        id=notification_id
    )
    if notification.body is None:
        notification.body = body_of(notification)
        Notification.objects.filter(id=notification.id).update(body=notification.body)
    return notification


def deliver_safely(items: list) -> None:
    """`deliver_many` on a delivery thread: its errors are logged, the leases then run out
    and the sweeper tries again."""
    close_old_connections()
    try:
        deliver_many(items)
    except Exception:
        log.exception(
            "notification delivery failed notifications=%s",
            [str(getattr(i, "id", i)) for i in items],
        )
    finally:
        close_old_connections()


# What an attempt's status after it says about the attempt (sched_notification_deliveries).
_OUTCOMES = {
    NotificationStatus.DELIVERED: "delivered",
    NotificationStatus.PENDING: "retrying",
    NotificationStatus.FAILED: "failed",
}


def _record(notification: Notification, attempt: senders.Attempt, started: float, lease) -> str:
    """Record the attempt and what follows it; its status after it. Counted once committed."""
    status = _record_attempt(notification, attempt, started, lease)
    metrics.delivery(notification.channel.kind, _OUTCOMES[status])
    return status


def _record_attempt(
    notification: Notification, attempt: senders.Attempt, started: float, lease
) -> str:
    now = timezone.now()
    duration_ms = int((time.monotonic() - started) * 1000)
    mine = Notification.objects.filter(id=notification.id, status=NotificationStatus.PENDING)
    retry_at = None
    with transaction.atomic():
        Delivery.objects.create(
            notification_id=notification.id,
            channel_id=notification.channel_id,
            attempt=notification.attempts,
            at=now,
            delivered=attempt.delivered,
            status_code=attempt.status_code,
            error=attempt.error[:2000],
            duration_ms=duration_ms,
        )
        if attempt.delivered:
            mine.update(
                status=NotificationStatus.DELIVERED,
                delivered_at=now,
                leased_until=None,
                last_error="",
            )
            return NotificationStatus.DELIVERED
        mine = mine.filter(leased_until=lease)  # another worker took it over: its to decide
        wait = backoff(notification.attempts)
        deadline = notification.created_at + _seconds("NOTIFY_RETRY_FOR")
        if attempt.final or notification.event == TEST_EVENT or now + wait > deadline:
            mine.update(
                status=NotificationStatus.FAILED, leased_until=None, last_error=attempt.error
            )
            log.warning(
                "notification failed notification=%s channel=%s: %s",
                notification.id,
                notification.channel_id,
                attempt.error,
            )
            return NotificationStatus.FAILED
        retry_at = now + wait
        if mine.update(
            next_attempt_at=retry_at, leased_until=None, queued_at=now, last_error=attempt.error
        ):
            owner = notification.channel.owner_id
            transaction.on_commit(
                lambda: publish_notifications([(notification.id, owner)], eta=retry_at)
            )
    return NotificationStatus.PENDING


class TestsBusy(Exception):
    """This process already sends CHANNEL_TESTS_AT_ONCE test messages: try again shortly."""


# Test messages are sent from the web process, whose threads serve every user's requests: a
# receiver that hangs must not hold more than CHANNEL_TESTS_AT_ONCE of them, whoever asks.
_tests = threading.BoundedSemaphore(1)
_tests_size = 1


def send_test(channel: Channel) -> Notification:
    """Send a test message on `channel` now, in this thread; one attempt, recorded, with
    NOTIFY_TEST_TIMEOUT for the receiver. TestsBusy when this process already sends its
    CHANNEL_TESTS_AT_ONCE tests."""
    if not _test_slots().acquire(blocking=False):
        raise TestsBusy(
            "Other channel tests are under way on this server; try again in a few seconds."
        )
    try:
        return _send_test(channel)
    finally:
        _tests.release()


def _test_slots() -> threading.BoundedSemaphore:
    global _tests, _tests_size
    size = max(1, settings.SCHED["CHANNEL_TESTS_AT_ONCE"])
    if size != _tests_size:  # the setting changed (tests): a new semaphore of that size
        _tests, _tests_size = threading.BoundedSemaphore(size), size
    return _tests


def _send_test(channel: Channel) -> Notification:
    now = timezone.now()
    notification = Notification.objects.create(
        channel=channel,
        event=TEST_EVENT,
        next_attempt_at=now,
        leased_until=now + _seconds("NOTIFY_LEASE"),
        attempts=1,
    )
    notification.body = body_of(notification)
    Notification.objects.filter(id=notification.id).update(body=notification.body)
    started = time.monotonic()
    attempt = senders.send(
        channel,
        notification.body,
        str(notification.id),
        timeout=settings.SCHED["NOTIFY_TEST_TIMEOUT"],
    )
    _record(notification, attempt, started, notification.leased_until)
    notification.refresh_from_db()
    return notification
