"""Put notifications on the `notifications` queue: (id, owner id) pairs per message.

The owner rides along so that a worker shares its delivery threads fairly between owners
before it reads anything (notifications/pool.py). A lost message loses nothing: the
sweeper publishes again what stays pending (notifications/delivery.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from celery import current_app

log = logging.getLogger(__name__)

DELIVER = "notifications.deliver"  # args: [[notification id, owner id], ...]
QUEUE = "notifications"
CHUNK = 100  # notifications per message


def publish_notifications(items: Sequence[tuple], *, eta: datetime | None = None) -> int:
    """Publish (notification id, owner id) pairs; return how many were sent. A failure is
    only logged: the sweeper publishes the notifications again."""
    sent = 0
    items = [(str(notification_id), owner_id) for notification_id, owner_id in items]
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        try:
            current_app.send_task(DELIVER, args=[chunk], queue=QUEUE, eta=eta)
        except Exception:
            log.warning(
                "publishing %d notifications failed; the sweeper will publish them again",
                len(chunk),
                exc_info=True,
            )
            break
        sent += len(chunk)
    return sent
