"""Reads: the channels, rules and delivery attempts the API and the admin show."""

from __future__ import annotations

from django.db.models import QuerySet

from .access import sees_all_jobs
from .models import Channel, Delivery, Rule


def channels_visible_to(user) -> QuerySet[Channel]:
    """Holders of jobs.view_all_jobs (and superusers) see every channel; others their own."""
    channels = Channel.objects.all()
    return channels if sees_all_jobs(user) else channels.filter(owner=user)


def rules_visible_to(user) -> QuerySet[Rule]:
    """The rules on a user or a namespace; a job's own rules are read and written with the
    job (its `notify`), under the job's access rules."""
    rules = Rule.objects.filter(job__isnull=True)
    return rules if sees_all_jobs(user) else rules.filter(owner=user)


def deliveries_of(channel: Channel) -> QuerySet[Delivery]:
    """The channel's delivery attempts, newest first (on delivery_channel_idx)."""
    return (
        Delivery.objects.filter(channel=channel)
        .select_related("notification")
        .defer("notification__body")  # made once per notification, not shown here
        .order_by("-at", "-id")
    )
