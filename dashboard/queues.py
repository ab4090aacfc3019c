"""Queue depths: pending runs per queue (the database's view) and the broker's lists.

The database says what waits: runs `pending` and due (run_pending_idx), by their job's
type's queue. The broker says what was published and not yet taken by a worker: kombu's
Redis transport keeps each queue as a Redis list named after it (LLEN). A worker takes
messages due within seconds at once and holds them until their ETA, so the broker's
number stays near zero unless no worker consumes the queue or all are saturated.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import redis
from django.conf import settings

from executors.registry import queue_for
from jobs.access import sees_all_jobs
from jobs.models import Job, Run, RunStatus
from jobs.states import TaskType

PENDING_READ_AT_MOST = 10_000  # pending runs read per page view; more show as "10,000+"
OTHER_QUEUES = ("housekeeping", "notifications")
BROKER_TIMEOUT = 0.25  # seconds: a broker that does not answer leaves its column empty


@dataclass
class Queue:
    name: str
    due: int  # pending runs due now or past
    later: int  # pending runs due later (retries, runs planned within the lookahead)
    broker: int | None  # messages waiting in the broker's list; None: not asked or no answer
    capped: bool = False


def queue_depths(user, now: datetime) -> list[Queue]:
    """Pending runs per queue that `user` sees (all of them for operators), and for
    operators the broker's list lengths.

    Two indexed reads, never a scan of the jobs: the pending runs due first (at most
    PENDING_READ_AT_MOST, run_pending_idx), then the type of their jobs (by key), kept
    for an ordinary user where the job is theirs. Past that many pending runs in all, an
    ordinary user's counts are of the ones due first."""
    pending = list(
        Run.objects.filter(status=RunStatus.PENDING)
        .order_by("due_at")
        .values_list("job_id", "due_at")[:PENDING_READ_AT_MOST]
    )
    jobs = Job.objects.filter(pk__in={job_id for job_id, _ in pending}).order_by()
    if not sees_all_jobs(user):
        jobs = jobs.filter(owner=user)
    types = dict(jobs.values_list("id", "type"))
    due, later = Counter(), Counter()
    for job_id, due_at in pending:
        if job_id in types:
            (due if due_at <= now else later)[_queue(types[job_id])] += 1
    names = sorted({_queue(t) for t in TaskType.values} | set(OTHER_QUEUES))
    lengths = broker_lengths(names) if sees_all_jobs(user) else {}
    capped = len(pending) >= PENDING_READ_AT_MOST
    return [
        Queue(name, due[name], later[name], lengths.get(name), capped)
        for name in names
        if due[name] or later[name] or lengths.get(name) or name not in OTHER_QUEUES
    ]


def _queue(task_type: str) -> str:
    try:
        return queue_for(task_type)
    except KeyError:
        return task_type


_client: redis.Redis | None = None


def broker_lengths(names: list[str]) -> dict[str, int]:
    """LLEN of each queue's list in one round trip; {} if the broker is not Redis or does
    not answer within BROKER_TIMEOUT."""
    global _client
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return {}
    try:
        if _client is None:
            _client = redis.Redis.from_url(
                url, socket_timeout=BROKER_TIMEOUT, socket_connect_timeout=BROKER_TIMEOUT
            )
        pipe = _client.pipeline(transaction=False)
        for name in names:
            pipe.llen(name)
        return dict(zip(names, pipe.execute(), strict=True))
    except redis.RedisError:
        return {}
