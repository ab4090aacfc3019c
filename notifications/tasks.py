"""The worker's entry point for notifications: hand them to the delivery threads."""

from celery import shared_task

from .delivery import deliver_safely
from .pool import delivery_pool
from .publish import DELIVER


@shared_task(name=DELIVER, ignore_result=True)
def deliver(items: list[list]) -> None:
    """Queue each (notification id, owner id) on this process's delivery threads and return
    at once: a message never holds a Celery thread while a receiver is slow. Nothing is
    lost if this process dies first: the sweeper publishes pending notifications again."""
    pool = delivery_pool()
    for notification_id, owner_id in items:
        pool.submit(owner_id, lambda nid=notification_id: deliver_safely(nid), key=notification_id)
