"""Publish again the notifications whose message was lost (a Redis flush, a dead worker).

Run by beat with the reaper (jobs/beat.py). It imports no sender: beat never sends.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import Notification, NotificationStatus
from .publish import publish_notifications

log = logging.getLogger(__name__)


def sweep(now=None) -> int:
    """Publish again the pending notifications due for NOTIFY_REPUBLISH_AFTER and not
    published (nor held by a worker) in that time: their message was lost. Run by beat."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SCHED["NOTIFY_REPUBLISH_AFTER"])
    with transaction.atomic():
        rows = list(
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=NotificationStatus.PENDING, next_attempt_at__lt=cutoff)
            .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=cutoff))
            .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
            .order_by("next_attempt_at")
            .values_list("id", "channel__owner_id")[:1000]
        )
        Notification.objects.filter(id__in=[row[0] for row in rows]).update(queued_at=now)
    if rows:
        log.warning("publishing %d notifications again", len(rows))
    return publish_notifications(rows)
