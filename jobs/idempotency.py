"""Creates that can be retried: a job create sent with an `Idempotency-Key` header.

The same key with the same request (method, path and body) from the same user within
KEEP_FOR answers the job the first request created; the same key with another request is
refused (KeyReused: the API answers 422). A client whose create got no answer (a timeout,
a reset connection) sends it again with the same key and gets one job whatever happened.

The key's row is inserted in the transaction that creates the job, before the job (the
job's id is chosen first; the foreign key is checked at commit), and is unique per owner
and key. Of two requests with one key at once, the second's insert waits for the first's
transaction: if it commits, the insert fails on the constraint and the second answers the
first's job; if it rolls back (a quota, a lost connection), the second creates the job.
Rows older than KEEP_FOR count for nothing (a request after a day creates a new job):
the create removes its own expired row, and beat purges the others (purge_expired).

On the shared ground (models only): jobs.services.job_create_once writes the key and the
job in one transaction; beat's clock purges without importing the writes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import IdempotencyKey, Job

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
KEEP_FOR = timedelta(hours=24)
MAX_KEY_LENGTH = 255  # characters: IdempotencyKey.key's max_length
PURGE_BATCH = 10_000  # rows deleted per statement by purge_expired


class KeyReused(Exception):
    """The key was used by this user within KEEP_FOR for another request."""


def fingerprint(*, method: str, path: str, body: Any) -> str:
    """SHA-256 of the request: its method, path (a namespace's create is another request)
    and body as canonical JSON (keys sorted), so that the same JSON sent with other spacing
    or key order is the same request."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def earlier_job(*, owner, key: str, fingerprint: str, now: datetime | None = None) -> Job | None:
    """The job `owner` created under `key` within KEEP_FOR, if any.

    Raises KeyReused when that create was another request."""
    now = now or timezone.now()
    row = (
        IdempotencyKey.objects.select_related("job")
        .filter(owner=owner, key=key, created_at__gt=now - KEEP_FOR)
        .first()
    )
    if row is None:
        return None
    if row.fingerprint != fingerprint:
        raise KeyReused(
            f"{HEADER} {key!r} was used within {KEEP_FOR.days * 24} h for another request "
            "(another body or path): send a new key for a new job."
        )
    return row.job


def claim(*, owner, key: str, fingerprint: str, job_id: uuid.UUID) -> Job | None:
    """Take `key` for the job `job_id` about to be created, in the caller's transaction
    (jobs.services.job_create_once): None, or the job another request with the key
    created first. Raises KeyReused when that one was another request.

    The job's row may come after the key's: the foreign key is checked at commit."""
    now = timezone.now()
    IdempotencyKey.objects.filter(owner=owner, key=key, created_at__lte=now - KEEP_FOR).delete()
    try:
        with transaction.atomic():  # a savepoint: the conflict leaves the transaction usable
            IdempotencyKey.objects.create(
                owner=owner, key=key, fingerprint=fingerprint, job_id=job_id, created_at=now
            )
    except IntegrityError:
        # Another request with this key committed first (this insert waited for it).
        job = earlier_job(owner=owner, key=key, fingerprint=fingerprint)
        if job is None:  # deleted meanwhile (an operator deleted the job)
            raise
        return job
    return None


def purge_expired(now: datetime | None = None) -> int:
    """Delete keys older than KEEP_FOR, at most PURGE_BATCH (beat calls it every
    jobs.beat.PURGE_INTERVAL); return how many went."""
    now = now or timezone.now()
    expired = IdempotencyKey.objects.filter(created_at__lte=now - KEEP_FOR)
    ids = list(expired.values_list("id", flat=True)[:PURGE_BATCH])
    if not ids:
        return 0
    deleted, _ = IdempotencyKey.objects.filter(id__in=ids).delete()
    log.info("purged %d idempotency keys older than %s", deleted, KEEP_FOR)
    return deleted
