"""Per-user quotas on channels and rules: a user cannot fill the tables the outbox reads."""

from __future__ import annotations

from django.conf import settings

from jobs.quotas import QuotaExceeded

from .models import Channel, Rule


def check_channels(owner) -> None:
    """Refuse a new channel past MAX_CHANNELS_PER_USER (superusers exempt; 0: no limit)."""
    _check(owner, Channel.objects.filter(owner=owner), "MAX_CHANNELS_PER_USER", "channels")


def check_rules(owner) -> None:
    """Refuse a new rule on all of an owner's jobs (or a namespace) past
    MAX_RULES_PER_USER; a job's own rules are bounded per job (its `notify`)."""
    rules = Rule.objects.filter(owner=owner, job__isnull=True)
    _check(owner, rules, "MAX_RULES_PER_USER", "notify rules")


def _check(owner, queryset, setting: str, what: str) -> None:
    limit = getattr(settings, setting)
    if limit <= 0 or owner.is_superuser:
        return
    if queryset.order_by().values("pk")[:limit].count() >= limit:  # counting stops there
        raise QuotaExceeded(
            f"You have {limit} {what}, the most one user may have ({setting}={limit}): "
            "delete some first."
        )
