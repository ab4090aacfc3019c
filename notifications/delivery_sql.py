"""A delivery's database work on PostgreSQL: two statements before the sends, one after each.

The ORM path of notifications/delivery.py takes six round trips and three commits per
delivered notification (claim, read, write the body; insert the attempt, mark it
delivered, commit), each statement compiled anew. At one notification per fire that was
most of a delivery's cost (docs/benchmarks.md, "Notifications"). Here, for the
notifications of one owner a delivery thread took together (notifications/pool.py):

- read: the notifications with their channel, job and run, those still pending;
- claim: take the lease, count the attempt and keep the body (the one already kept, or
  the one made from the read) in one conditional UPDATE: a notification it leaves out is
  held by another worker, or no longer pending or due; the body it returns is the one
  sent;
- delivered: the attempts' Delivery rows and the notifications marked delivered, in one
  statement (so in one transaction) once the batch's sends are over.

The statements are prepared once per connection (notifications/pg.py). A failed attempt
(backoff, give up) takes the ORM path, and so does every other database.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from jobs.pgarray import array_literal

from .payloads import body_of
from .pg import cursor, execute
from .rows import ChannelRow, Claimed, JobRow, RunRow

READ_SQL = """
SELECT n.id, n.event, n.job_id, n.run_id, n.created_at, n.body,
       c.id, c.owner_id, c.name, c.kind, c.url, c."to", c.secret,
       j.name, j.product, j."group", j.status, j.health, j.consecutive_failures,
       r.status, r.attempt, r.due_at, r.finished_at, r.error
FROM notifications_notification AS n
JOIN notifications_channel AS c ON c.id = n.channel_id
LEFT JOIN jobs_job AS j ON j.id = n.job_id
LEFT JOIN jobs_run AS r ON r.id = n.run_id
WHERE n.id = ANY(%(ids)s::uuid[]) AND n.status = 'pending' AND n.next_attempt_at <= %(due)s
"""

# `held`: the lease this worker already holds on it (the outbox's, for one that waited
# too long here to be sent under it): renewed, the attempt not counted twice. Another
# worker that took it over since has set a lease of its own.
CLAIM_SQL = """
UPDATE notifications_notification AS n
SET leased_until = %(lease)s, body = COALESCE(n.body, i.body),
    attempts = n.attempts + CASE WHEN n.leased_until = i.held THEN 0 ELSE 1 END
FROM unnest(%(ids)s::uuid[], %(bodies)s::jsonb[], %(held)s::timestamptz[])
     AS i(id, body, held)
WHERE n.id = i.id AND n.status = 'pending' AND n.next_attempt_at <= %(due)s
  AND (n.leased_until IS NULL OR n.leased_until < %(now)s OR n.leased_until = i.held)
RETURNING n.id, n.attempts, n.body
"""

DELIVERED_SQL = """
WITH i AS (
    SELECT * FROM unnest(%(ids)s::uuid[], %(channels)s::uuid[], %(attempts)s::integer[],
                         %(ats)s::timestamptz[], %(codes)s::integer[], %(ms)s::integer[])
        AS i(id, channel_id, attempt, at, status_code, ms)
), attempt AS (
    INSERT INTO notifications_delivery
        (notification_id, channel_id, attempt, at, delivered, status_code, error, duration_ms)
    SELECT id, channel_id, attempt, at, true, status_code, '', ms FROM i
)
UPDATE notifications_notification AS n
SET status = 'delivered', delivered_at = i.at, leased_until = NULL, last_error = ''
FROM i
WHERE n.id = i.id AND n.status = 'pending'
"""


def _json(value):
    # Django's psycopg set-up hands jsonb over as text, for its fields to parse.
    return json.loads(value) if isinstance(value, str) else value


def claim(
    ids: list[str], *, now: datetime, due: datetime, lease: datetime, held: dict | None = None
) -> list[Claimed]:
    """Of these notifications, those pending and due by `due`, leased to this worker
    until `lease` with their attempt counted and their body kept, in the order given; the
    others are not ours to try. `held`: id -> the lease this worker holds on it already."""
    held = held or {}
    with cursor() as cur:
        execute(cur, READ_SQL, {"ids": array_literal(ids), "due": due})
        read = {row[0]: _notification(row) for row in cur.fetchall()}
        if not read:
            return []
        params = {
            "ids": array_literal(read),
            "bodies": array_literal(json.dumps(n.body or body_of(n)) for n in read.values()),
            "held": array_literal(held.get(str(key)) for key in read),
            "lease": lease,
            "due": due,
            "now": now,
        }
        execute(cur, CLAIM_SQL, params)
        claimed = {row[0]: row[1:] for row in cur.fetchall()}
    out = []
    for notification_id in ids:
        key = uuid.UUID(str(notification_id))
        if key in claimed:
            notification = read[key]
            notification.attempts, body = claimed[key]
            notification.body = _json(body)
            notification.lease = lease
            out.append(notification)
    return out


def delivered(sent: list[tuple]) -> None:
    """Record delivered attempts, as (notification, when, status code, milliseconds), and
    mark their notifications delivered: one statement for a batch's."""
    params = {
        "ids": array_literal(n.id for n, *_ in sent),
        "channels": array_literal(n.channel_id for n, *_ in sent),
        "attempts": array_literal(n.attempts for n, *_ in sent),
        "ats": array_literal(at for _, at, _, _ in sent),
        "codes": array_literal(code for _, _, code, _ in sent),
        "ms": array_literal(ms for *_, ms in sent),
    }
    with cursor() as cur:
        execute(cur, DELIVERED_SQL, params)


def _notification(row) -> Claimed:
    """A notification with its channel, job and run, from READ_SQL's row."""
    job_id, run_id = row[2], row[3]
    return Claimed(
        id=row[0],
        event=row[1],
        created_at=row[4],
        body=_json(row[5]),
        channel=ChannelRow(*row[6:11], _json(row[11]), row[12]),
        job=None if job_id is None else JobRow(job_id, *row[13:19]),
        run=None if run_id is None else RunRow(run_id, *row[19:24]),
    )
