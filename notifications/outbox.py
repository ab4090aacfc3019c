"""Write notifications in the transaction that decides the outcome they tell of.

`on_fires_ended` listens to jobs.signals.fires_ended: for each fire that ended, the rules
that match its job (the job's own, then its owner's for all jobs or for its product and
group) say which events go to which channel. One notification per channel and event of a
fire, however many rules name that channel. Once the transaction commits they go to the
`notifications` queue, or straight to the delivery threads of a worker that consumes it
(notifications/publish.py); if that is lost, the sweeper publishes them again
(notifications/delivery.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from jobs.models import Event
from jobs.signals import FireEnd

from .models import Notification, Rule
from .publish import wake


def on_fires_ended(sender, ends: list[FireEnd], **kwargs) -> None:
    rules = _rules_for(ends)
    if not rules:
        return
    now = timezone.now()
    notifications: dict[tuple, Notification] = {}
    for end in ends:
        for rule in _matching(rules, end):
            for event in end.events:
                if _sends(rule, event, end):
                    key = (rule.channel_id, event, end.run_id)
                    notifications.setdefault(
                        key,
                        Notification(
                            channel_id=rule.channel_id,
                            event=event,
                            job_id=end.job_id,
                            run_id=end.run_id,
                            next_attempt_at=now,
                            queued_at=now,
                        ),
                    )
    if notifications:
        created = Notification.objects.bulk_create(notifications.values())
        owners = dict(_channel_owners(rules))
        items = [(n.id, owners[n.channel_id]) for n in created]
        transaction.on_commit(lambda: wake(items))


def _rules_for(ends: list[FireEnd]) -> list[Rule]:
    """The rules that may match these fires: one query, on the rules' partial indexes."""
    wanted = [end for end in ends if end.events]
    if not wanted:
        return []
    job_ids = {end.job_id for end in wanted}
    owner_ids = {end.owner_id for end in wanted}
    return list(
        Rule.objects.filter(
            Q(job_id__in=job_ids) | Q(job__isnull=True, owner_id__in=owner_ids)
        ).select_related("channel")
    )


def _matching(rules: list[Rule], end: FireEnd) -> Iterable[Rule]:
    for rule in rules:
        if rule.job_id is not None:
            if rule.job_id == end.job_id:
                yield rule
        elif (
            rule.owner_id == end.owner_id
            and rule.product in ("", end.product)
            and rule.group in ("", end.group)
        ):
            yield rule


def _sends(rule: Rule, event: str, end: FireEnd) -> bool:
    """A rule sends the events it lists; `failure` only for the first failed fire in a
    row, unless the rule asks for every one."""
    if event not in rule.on:
        return False
    if event == Event.FAILURE and end.failures > 1:
        return rule.every_failure
    return True


def _channel_owners(rules: list[Rule]) -> Iterable[tuple]:
    for rule in rules:
        yield rule.channel_id, rule.channel.owner_id
