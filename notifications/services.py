"""Writes on channels and rules: each function one transaction, keyword arguments only.

The API validates first (jobs/api/notify_serializers.py: fields per kind, addresses, the
egress policy, that a rule's channel is its owner's); these write what was validated.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from jobs.models import Job

from .delivery import send_test
from .models import Channel, ChannelKind, NotificationStatus, Rule
from .quotas import check_channels, check_rules

# The fields each kind of channel takes; the others are kept empty.
KIND_FIELDS = {
    ChannelKind.WEBHOOK: ("url", "secret"),
    ChannelKind.SLACK: ("url",),
    ChannelKind.EMAIL: ("to",),
}
_EMPTY = {"url": "", "secret": "", "to": ()}
RULE_FIELDS = ("on", "every_failure", "product", "group")


@transaction.atomic
def channel_create(*, owner, data: dict[str, Any]) -> Channel:
    check_channels(owner)
    kind = data["kind"]
    fields = {
        field: data.get(field, empty) if field in KIND_FIELDS[kind] else empty
        for field, empty in _EMPTY.items()
    }
    fields["to"] = list(fields["to"])
    return Channel.objects.create(owner=owner, name=data["name"], kind=kind, **fields)


@transaction.atomic
def channel_update(*, channel: Channel, data: dict[str, Any]) -> Channel:
    """Change a channel's name and its kind's fields (its kind stays)."""
    for field in ("name", *KIND_FIELDS[channel.kind]):
        if field in data:
            setattr(channel, field, data[field])
    channel.save()
    return channel


@transaction.atomic
def channel_delete(*, channel: Channel) -> None:
    """Delete the channel with its rules, notifications and delivery attempts."""
    channel.delete()


@transaction.atomic
def rule_create(*, owner, data: dict[str, Any]) -> Rule:
    """A rule on all of `owner`'s jobs, or those of a product and group (blank: any)."""
    check_rules(owner)
    return Rule.objects.create(
        owner=owner, channel_id=data["channel"], **{f: data[f] for f in RULE_FIELDS if f in data}
    )


@transaction.atomic
def rule_update(*, rule: Rule, data: dict[str, Any]) -> Rule:
    if "channel" in data:
        rule.channel_id = data["channel"]
    for field in RULE_FIELDS:
        if field in data:
            setattr(rule, field, data[field])
    rule.save()
    return rule


@transaction.atomic
def rule_delete(*, rule: Rule) -> None:
    rule.delete()


def set_job_rules(*, job: Job, rules: list[dict[str, Any]]) -> None:
    """Replace the job's own rules (its `notify`): in the caller's transaction, which
    writes the job, so the job and who is told of it change together."""
    Rule.objects.filter(job=job).delete()
    Rule.objects.bulk_create(
        Rule(
            owner_id=job.owner_id,
            job=job,
            channel_id=rule["channel"],
            on=list(rule["on"]),
            every_failure=rule["every_failure"],
        )
        for rule in rules
    )


def channel_test(*, channel: Channel) -> dict[str, Any]:
    """Send a test message on `channel` now, in this thread, outside any transaction (a
    request to a receiver is no time to hold one): whether it was delivered, the
    receiver's status code and the error, and the notification it was."""
    notification = send_test(channel)
    attempt = notification.deliveries.order_by("-attempt").first()
    return {
        "delivered": notification.status == NotificationStatus.DELIVERED,
        "status_code": attempt.status_code if attempt else None,
        "error": attempt.error if attempt else notification.last_error,
        "notification": notification.id,
    }
