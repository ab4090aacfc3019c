"""Put notifications on the `notifications` queue: (id, owner id) pairs per message.

The owner rides along so that a worker shares its delivery threads fairly between owners
before it reads anything (notifications/pool.py). A lost message loses nothing: the
sweeper publishes again what stays pending (notifications/sweeper.py).

New notifications made by a worker that consumes the queue itself (the outbox of the runs
it finishes) skip the broker: `wake` hands them to its own delivery threads, as the
message would have once a Celery thread took it. A Celery thread is not free for that
while the worker has a backlog of runs (each holds a message of runs until they end), so
a message would wait behind every run due before it; and the message costs a publish and
a task. If the process dies before delivering them, the sweeper publishes them again, as
it does a lost message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from celery import current_app

log = logging.getLogger(__name__)

DELIVER = "notifications.deliver"  # args: [[notification id, owner id], ...]
QUEUE = "notifications"
CHUNK = 100  # notifications per message

# This process's delivery threads, when it is a worker that consumes QUEUE (set at its
# start: schedsite/celery.py); None: new notifications go through the broker. Called with
# (notification id, owner id) pairs and, when the outbox leased them to this process, the
# notifications as a delivery reads them, by id (notifications/rows.py).
_here: Callable[[Sequence[tuple], Mapping | None], None] | None = None


def deliver_here(handler: Callable[[Sequence[tuple], Mapping | None], None] | None) -> None:
    """Hand the notifications this process makes to `handler` from now on (None: publish
    them)."""
    global _here
    _here = handler


def delivers_here() -> bool:
    return _here is not None


def wake(items: Sequence[tuple], leased: Mapping | None = None) -> None:
    """New notifications, committed: to this process's delivery threads if it has them
    (with those `leased` to it), else a message."""
    if _here is not None:
        _here(items, leased)
    else:
        publish_notifications(items)


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
