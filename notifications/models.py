"""Channels, the rules that send to them, and the outbox of notifications with each attempt.

A notification is written in the transaction that records the outcome it is about (an
outbox), so it exists exactly when the outcome does; the workers deliver it from here, and
its id is the `Idempotency-Key` every attempt carries.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from jobs.models import Event, Job, Run


class ChannelKind(models.TextChoices):
    WEBHOOK = "webhook"
    EMAIL = "email"
    SLACK = "slack"


class Channel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="channels"
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=ChannelKind.choices)
    url = models.CharField(max_length=2000, blank=True, default="", help_text="webhook, slack")
    to = models.JSONField(default=list, blank=True, help_text="email: the addresses")
    # Write-only in the API: signs webhook bodies (HMAC-SHA256).
    secret = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class Rule(models.Model):
    """Send a job's events to a channel: on one job, or on all of an owner's jobs (within
    a product and group when they are set)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="rules")
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.CASCADE, related_name="notify_rules"
    )
    product = models.CharField(max_length=100, blank=True, default="", help_text="blank: any")
    group = models.CharField(max_length=100, blank=True, default="", help_text="blank: any")
    on = models.JSONField(help_text="The events (jobs.states.Event) this rule sends.")
    every_failure = models.BooleanField(
        default=False, help_text="Send `failure` for each failed fire, not only the first."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["job"], name="rule_job_idx", condition=Q(job__isnull=False)),
            models.Index(fields=["owner"], name="rule_owner_idx", condition=Q(job__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{', '.join(self.on)} -> {self.channel_id}"


class NotificationStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # every attempt within NOTIFY_RETRY_FOR failed, or one cannot succeed


class Notification(models.Model):
    # Sent as Idempotency-Key with every attempt: a receiver drops repeats by it.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=16, choices=Event.choices + [("test", "test")])
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # A worker holds the notification while it sends; a dead worker's hold runs out.
    leased_until = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)  # last published to the broker
    # The body, made at the first attempt and sent the same by every later one.
    body = models.JSONField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="notification_due_idx",
                condition=Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} -> {self.channel_id} ({self.status})"


class Delivery(models.Model):
    """One attempt to deliver a notification."""

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    # The channel's, kept here so that its list of attempts reads one index.
    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    attempt = models.PositiveIntegerField()
    at = models.DateTimeField()
    delivered = models.BooleanField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["channel", "-at"], name="delivery_channel_idx")]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.notification_id} #{self.attempt}"
