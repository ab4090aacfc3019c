"""The worker's entry points for notifications: hand them to the delivery threads."""

from collections.abc import Mapping, Sequence

from celery import shared_task

from .pool import delivery_pool
from .publish import DELIVER, deliver_here


@shared_task(name=DELIVER, ignore_result=True)
def deliver(items: list[list]) -> None:
    """Queue each (notification id, owner id) on this process's delivery threads and return
    at once: a message never holds a Celery thread while a receiver is slow. Nothing is
    lost if this process dies first: the sweeper publishes pending notifications again."""
    submit(items)


def submit(items: Sequence[Sequence], leased: Mapping | None = None) -> None:
    """Queue (notification id, owner id) pairs; a notification `leased` to this process
    (by id) goes as it is, to be sent without a claim."""
    pool = delivery_pool()
    for notification_id, owner_id in items:
        item = leased.get(notification_id) if leased else None
        notification_id = str(notification_id)
        pool.submit(owner_id, item or notification_id, key=notification_id)


def deliver_in_this_process() -> None:
    """From now on the notifications this process makes go to its own delivery threads
    (notifications/publish.py): called at the start of a worker that consumes the queue."""
    deliver_here(submit)
