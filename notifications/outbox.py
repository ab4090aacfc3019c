"""Write notifications in the transaction that decides the outcome they tell of.

`on_fires_ended` listens to jobs.signals.fires_ended: for each fire that ended, the rules
that match its job (the job's own, then its owner's for all jobs or for its product and
group) say which events go to which channel. One notification per channel and event of a
fire, however many rules name that channel. Once the transaction commits they go to the
`notifications` queue, or straight to the delivery threads of a worker that consumes it
(notifications/publish.py); if that is lost, the sweeper publishes them again
(notifications/sweeper.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from jobs.models import Event
from jobs.pgarray import array_literal
from jobs.signals import FireEnd

from . import pg
from .models import Notification, Rule
from .payloads import body_of
from .publish import delivers_here, wake
from .rows import ChannelRow, Claimed, JobRow, RunRow

# Every fire's end runs RULES_SQL, rules or none, and INSERT_SQL when one matches: both
# prepared once per connection (notifications/pg.py), where the ORM compiled each anew
# (docs/benchmarks.md, "Notifications").
RULES_SQL = """
SELECT r.channel_id, c.owner_id, r.job_id, r.owner_id, r.product, r."group", r."on",
       r.every_failure, c.name, c.kind, c.url, c."to", c.secret
FROM notifications_rule AS r JOIN notifications_channel AS c ON c.id = r.channel_id
WHERE r.job_id = ANY(%(jobs)s::uuid[])
   OR (r.job_id IS NULL AND r.owner_id = ANY(%(owners)s::integer[]))
ORDER BY r.created_at, r.id
"""

# What the body of a new notification says of its job and run, as this transaction left
# them (the fire's outcome is written before fires_ended is sent).
FACTS_SQL = """
SELECT i.job_id, j.name, j.product, j."group", j.status, j.health, j.consecutive_failures,
       i.run_id, r.status, r.attempt, r.due_at, r.finished_at, r.error
FROM unnest(%(jobs)s::uuid[], %(runs)s::uuid[]) AS i(job_id, run_id)
JOIN jobs_job AS j ON j.id = i.job_id
LEFT JOIN jobs_run AS r ON r.id = i.run_id
"""

# A new notification: pending, due now, its body made. With a lease (`attempts` 1), it is
# this worker's to deliver, as if claimed; without, the first claim counts the attempt.
INSERT_SQL = """
INSERT INTO notifications_notification
    (id, channel_id, event, job_id, run_id, status, attempts, leased_until, body,
     next_attempt_at, queued_at, last_error, created_at)
SELECT i.id, i.channel_id, i.event, i.job_id, i.run_id, 'pending',
       CASE WHEN %(lease)s::timestamptz IS NULL THEN 0 ELSE 1 END, %(lease)s, i.body,
       %(now)s, %(now)s, '', %(now)s
FROM unnest(%(ids)s::uuid[], %(channels)s::uuid[], %(events)s::text[], %(jobs)s::uuid[],
            %(runs)s::uuid[], %(bodies)s::jsonb[]) AS i(id, channel_id, event, job_id, run_id, body)
"""


@dataclass(frozen=True, slots=True)
class _Rule:
    """What the outbox reads of a rule, and its channel's owner."""

    channel_id: uuid.UUID
    channel_owner_id: int
    job_id: uuid.UUID | None
    owner_id: int
    product: str
    group: str
    on: list[str]
    every_failure: bool
    channel: ChannelRow | None  # what a send reads of it (PostgreSQL's path)


def on_fires_ended(sender, ends: list[FireEnd], **kwargs) -> None:
    rules = _rules_for(ends)
    if not rules:
        return
    now = timezone.now()
    # (channel, event, run) -> the new notification's (id, job)
    notifications: dict[tuple, tuple] = {}
    for end in ends:
        for rule in _matching(rules, end):
            for event in end.events:
                if _sends(rule, event, end):
                    key = (rule.channel_id, event, end.run_id)
                    notifications.setdefault(key, (uuid.uuid4(), end.job_id))
    if not notifications:
        return
    owners = {rule.channel_id: rule.channel_owner_id for rule in rules}
    items = [(nid, owners[key[0]]) for key, (nid, _) in notifications.items()]
    if not pg.enabled():
        _insert_orm(notifications, now)
        transaction.on_commit(lambda: wake(items))
        return
    channels = {rule.channel_id: rule.channel for rule in rules}
    lease = now + timedelta(seconds=settings.SCHED["NOTIFY_LEASE"]) if delivers_here() else None
    made = _insert(notifications, channels, now, lease)
    transaction.on_commit(lambda: wake(items, made if lease else None))


def _insert(notifications: dict[tuple, tuple], channels: dict, now, lease) -> dict:
    """Write the new notifications with their bodies, leased to this process until `lease`
    if it delivers them itself; each as a delivery reads it, by id."""
    pairs = [(job_id, run_id) for (_, _, run_id), (_, job_id) in notifications.items()]
    facts = _facts(pairs)
    made = {}
    for (channel_id, event, run_id), (nid, job_id) in notifications.items():
        job, run = facts.get((job_id, run_id), (None, None))
        claimed = Claimed(nid, event, now, None, channels[channel_id], job, run, 1, lease)
        claimed.body = body_of(claimed)
        made[nid] = claimed
    keys, values = list(notifications), list(notifications.values())
    params = {
        "ids": array_literal(nid for nid, _ in values),
        "channels": array_literal(channel_id for channel_id, _, _ in keys),
        "events": array_literal(event for _, event, _ in keys),
        "jobs": array_literal(job_id for _, job_id in values),
        "runs": array_literal(run_id for _, _, run_id in keys),
        "bodies": array_literal(json.dumps(claimed.body) for claimed in made.values()),
        "lease": lease,
        "now": now,
    }
    with pg.cursor() as cur:
        pg.execute(cur, INSERT_SQL, params)
    return made


def _facts(pairs: list[tuple]) -> dict[tuple, tuple]:
    """(job id, run id) -> (JobRow, RunRow or None), as this transaction sees them."""
    params = {
        "jobs": array_literal(job_id for job_id, _ in pairs),
        "runs": array_literal(run_id for _, run_id in pairs),
    }
    with pg.cursor() as cur:
        pg.execute(cur, FACTS_SQL, params)
        rows = cur.fetchall()
    return {
        (row[0], row[7]): (
            JobRow(*row[:7]),
            None if row[7] is None or row[8] is None else RunRow(*row[7:13]),
        )
        for row in rows
    }


def _insert_orm(notifications: dict[tuple, tuple], now) -> None:
    """Other databases: the new notifications, pending and due now; their body is made at
    their first claim (notifications/delivery.py)."""
    Notification.objects.bulk_create(
        Notification(
            id=nid,
            channel_id=channel_id,
            event=event,
            job_id=job_id,
            run_id=run_id,
            next_attempt_at=now,
            queued_at=now,
        )
        for (channel_id, event, run_id), (nid, job_id) in notifications.items()
    )


def _rules_for(ends: list[FireEnd]) -> list[_Rule]:
    """The rules that may match these fires: one query, on the rules' partial indexes."""
    wanted = [end for end in ends if end.events]
    if not wanted:
        return []
    job_ids = {end.job_id for end in wanted}
    owner_ids = {end.owner_id for end in wanted}
    if pg.enabled():
        params = {"jobs": array_literal(job_ids), "owners": array_literal(owner_ids)}
        with pg.cursor() as cur:
            pg.execute(cur, RULES_SQL, params)
            rows = cur.fetchall()
        return [
            _Rule(
                *row[:6],
                _json(row[6]),
                row[7],
                ChannelRow(row[0], row[1], *row[8:11], _json(row[11]), row[12]),
            )
            for row in rows
        ]
    rules = Rule.objects.filter(
        Q(job_id__in=job_ids) | Q(job__isnull=True, owner_id__in=owner_ids)
    ).select_related("channel")
    return [
        _Rule(
            rule.channel_id,
            rule.channel.owner_id,
            rule.job_id,
            rule.owner_id,
            rule.product,
            rule.group,
            rule.on,
            rule.every_failure,
            None,
        )
        for rule in rules
    ]


def _json(value):
    # Django's psycopg set-up hands jsonb over as text, for its fields to parse.
    return json.loads(value) if isinstance(value, str) else value


def _matching(rules: list[_Rule], end: FireEnd) -> Iterable[_Rule]:
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


def _sends(rule: _Rule, event: str, end: FireEnd) -> bool:
    """A rule sends the events it lists; `failure` only for the first failed fire in a
    row, unless the rule asks for every one. `paused` also goes to a rule that hears
    failures: the job stopped because of them, and a streak's later failures are silent."""
    if event == Event.PAUSED:
        return Event.PAUSED in rule.on or Event.FAILURE in rule.on
    if event not in rule.on:
        return False
    if event == Event.FAILURE and end.failures > 1:
        return rule.every_failure
    return True
