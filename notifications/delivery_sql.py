"""A delivery's database work on PostgreSQL: two statements before the send, one after.

The ORM path of notifications/delivery.py takes six round trips and three commits per
delivered notification (claim, read, write the body; insert the attempt, mark it
delivered, commit), each statement compiled anew. At one notification per fire that
was most of a delivery's cost (docs/benchmarks.md, "Notifications"). Here:

- read: the notification with its channel, job and run, if still pending;
- claim: take the lease, count the attempt and keep the body (the one already kept, or
  the one made from the read) in one conditional UPDATE: zero rows means another worker
  holds it, or it is no longer pending or due; the body it returns is the one sent;
- delivered: the attempt's Delivery row and the notification marked delivered, in one
  statement (so in one transaction).

The statements are prepared once per connection (notifications/pg.py). A failed attempt
(backoff, give up) takes the ORM path, and so does every other database.
"""

from __future__ import annotations

import json
from datetime import datetime

from jobs.models import Job, Run

from .models import Channel, Notification
from .payloads import body_of
from .pg import cursor, execute

READ_SQL = """
SELECT n.event, n.job_id, n.run_id, n.created_at, n.body,
       c.id, c.owner_id, c.name, c.kind, c.url, c."to", c.secret,
       j.name, j.product, j."group", j.status, j.health, j.consecutive_failures,
       r.status, r.attempt, r.due_at, r.finished_at, r.error
FROM notifications_notification AS n
JOIN notifications_channel AS c ON c.id = n.channel_id
LEFT JOIN jobs_job AS j ON j.id = n.job_id
LEFT JOIN jobs_run AS r ON r.id = n.run_id
WHERE n.id = %(id)s AND n.status = 'pending' AND n.next_attempt_at <= %(due)s
"""

CLAIM_SQL = """
UPDATE notifications_notification
SET leased_until = %(lease)s, attempts = attempts + 1, body = COALESCE(body, %(body)s::jsonb)
WHERE id = %(id)s AND status = 'pending' AND next_attempt_at <= %(due)s
  AND (leased_until IS NULL OR leased_until < %(now)s)
RETURNING attempts, body
"""

DELIVERED_SQL = """
WITH attempt AS (
    INSERT INTO notifications_delivery
        (notification_id, channel_id, attempt, at, delivered, status_code, error, duration_ms)
    VALUES (%(id)s, %(channel)s, %(attempt)s, %(now)s, true, %(status_code)s, '', %(ms)s)
)
UPDATE notifications_notification
SET status = 'delivered', delivered_at = %(now)s, leased_until = NULL, last_error = ''
WHERE id = %(id)s AND status = 'pending'
"""


def _json(value):
    # Django's psycopg set-up hands jsonb over as text, for its fields to parse.
    return json.loads(value) if isinstance(value, str) else value


def claim(notification_id: str, *, now: datetime, due: datetime, lease: datetime):
    """The pending notification, due by `due`, leased to this worker until `lease` with
    its attempt counted and its body kept; None if it is not ours to try."""
    with cursor() as cur:
        execute(cur, READ_SQL, {"id": notification_id, "due": due})
        row = cur.fetchone()
        if row is None:
            return None
        notification = _notification(notification_id, row)
        body = notification.body or body_of(notification)
        params = {
            "id": notification_id,
            "lease": lease,
            "body": json.dumps(body),
            "due": due,
            "now": now,
        }
        execute(cur, CLAIM_SQL, params)
        claimed = cur.fetchone()
    if claimed is None:
        return None
    notification.attempts, notification.body = claimed[0], _json(claimed[1])
    return notification


def delivered(notification: Notification, *, now: datetime, status_code, ms: int) -> None:
    """Record a delivered attempt and mark its notification delivered."""
    params = {
        "id": notification.id,
        "channel": notification.channel_id,
        "attempt": notification.attempts,
        "now": now,
        "status_code": status_code,
        "ms": ms,
    }
    with cursor() as cur:
        execute(cur, DELIVERED_SQL, params)


def _notification(notification_id: str, row) -> Notification:
    """The model objects delivery.py and payloads.py read, from READ_SQL's row."""
    event, job_id, run_id, created_at, body = row[:5]
    channel_id, owner_id, name, kind, url, to, secret = row[5:12]
    notification = Notification(
        id=notification_id,
        channel=Channel(
            id=channel_id,
            owner_id=owner_id,
            name=name,
            kind=kind,
            url=url,
            to=_json(to),
            secret=secret,
        ),
        event=event,
        body=_json(body),
        created_at=created_at,
    )
    if job_id is not None:
        name, product, group, status, health, failures = row[12:18]
        notification.job = Job(
            id=job_id,
            name=name,
            product=product,
            group=group,
            status=status,
            health=health,
            consecutive_failures=failures,
        )
    if run_id is not None:
        status, attempt, due_at, finished_at, error = row[18:23]
        notification.run = Run(
            id=run_id,
            status=status,
            attempt=attempt,
            due_at=due_at,
            finished_at=finished_at,
            error=error,
        )
    return notification
