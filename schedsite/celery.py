"""The Celery app: `celery -A schedsite worker|beat`."""

import logging
import os

import redis
from celery import Celery
from celery.signals import (
    beat_init,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_ready,
    worker_shutdown,
)
from kombu.transport import redis as kombu_redis

from . import dumpable

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "schedsite.settings")

log = logging.getLogger(__name__)

app = Celery("schedsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["jobs", "notifications"])


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(**kwargs) -> None:
    """Around each task, close connections Django deems old or broken (see
    CELERY_DB_REUSE_MAX in settings): what a request does in the web process."""
    from django.db import close_old_connections

    close_old_connections()


@worker_init.connect
@worker_process_init.connect  # a prefork child: inherited by fork, set again all the same
def _keep_secrets_from_runs(**kwargs) -> None:
    """The worker's environment (SECRET_KEY, DATABASE_URL) and memory are not readable by
    the command and script runs it starts, even as its own user: see schedsite/dumpable.py."""
    if not dumpable.make_non_dumpable():
        log.warning(
            "this platform has no non-dumpable flag: command and script runs of the worker's "
            "own user may read its environment"
        )


@worker_init.connect
def _size_run_pool(sender=None, **kwargs) -> None:
    """Runs go on a pool of threads per process (jobs/run_pool.py), as many as the threads
    pool's concurrency; a prefork or solo child runs one at a time, as Celery would."""
    from celery.concurrency import get_implementation
    from celery.concurrency.thread import TaskPool as ThreadsPool

    from jobs import run_pool

    if not issubclass(get_implementation(sender.pool_cls), ThreadsPool):
        run_pool.configure(1)
    elif isinstance(sender.concurrency, int):  # else "auto": WORKER_RUN_THREADS
        run_pool.configure(sender.concurrency)


def _consumed_queues(worker) -> set[str]:
    """The names of the queues a ready worker consumes (none if it has no consumer)."""
    try:
        return {queue.name for queue in worker.task_consumer.queues}
    except AttributeError:
        return set()


@worker_ready.connect
def _start_container_janitor(sender=None, **kwargs) -> None:
    """A worker that runs container tasks removes the containers a dead worker left."""
    if "docker" in _consumed_queues(sender):
        from executors import docker_janitor

        docker_janitor.start()


@worker_ready.connect
def _say_who_runs_code(sender=None, **kwargs) -> None:
    """A worker that runs commands and scripts logs the user they run as."""
    if _consumed_queues(sender) & {"command", "script"}:
        from executors import accounts

        message, is_warning = accounts.describe_code_account()
        log.log(logging.WARNING if is_warning else logging.INFO, message)


@worker_ready.connect
def _register_worker_process(sender=None, **kwargs) -> None:
    """Count this worker as alive (jobs.WorkerProcess, kept by its heartbeat thread)."""
    from django.db import connection

    from jobs import heartbeat

    concurrency = getattr(getattr(sender, "controller", None), "concurrency", 0)
    try:
        heartbeat.register_process(
            getattr(sender, "hostname", ""),
            sorted(_consumed_queues(sender)),
            concurrency if isinstance(concurrency, int) else 0,
        )
    finally:
        connection.close()  # Celery's main thread does no other database work


@worker_shutdown.connect
def _unregister_worker_process(**kwargs) -> None:
    from django.db import connection

    from jobs import heartbeat

    try:
        heartbeat.unregister_process()
    except Exception:
        log.warning("could not unregister this worker process", exc_info=True)
    finally:
        connection.close()


@worker_ready.connect
def _serve_worker_metrics(sender=None, **kwargs) -> None:
    """METRICS_PORT: serve this host's counters (a host without a web process)."""
    from jobs import exposition

    exposition.serve("worker")


@beat_init.connect
def _serve_beat_metrics(sender=None, **kwargs) -> None:
    from jobs import exposition

    exposition.serve("beat")


class RedisChannel(kombu_redis.Channel):
    """kombu's Redis channel, failing with a connection error once its connection is gone.

    With celery 5.7 / kombu 5.7, when Redis goes away (restart, failover) while a worker
    holds unacknowledged messages (ETA messages, prefetched or running tasks), the worker
    drops the dead connection and detaches its transport; the old channel is then closed
    again (restoring its unacked messages) and running tasks ack late on it. Both need a
    new Redis client, which kombu cannot build without the connection's parameters:
    `AttributeError: 'NoneType' object has no attribute 'hostname'`. That is not a
    connection error, so Celery reports an "Unrecoverable error" and the worker shuts down
    instead of reconnecting (tests/faults/test_broker_loss.py keeps it fixed).

    Raised as a connection error, it is what it is: Celery logs it and reconnects. The
    messages it could not restore or ack are harmless to drop: Redis lost them anyway,
    and the database is the source of truth (the reaper publishes again every run still
    pending REPUBLISH_AFTER past its due time; the claim drops duplicates).
    """

    def _connparams(self, asynchronous=False):
        if self.connection is None or self.connection.client is None:
            raise redis.exceptions.ConnectionError("the broker connection was closed")
        return super()._connparams(asynchronous=asynchronous)


class RedisTransport(kombu_redis.Transport):
    """The Redis transport with RedisChannel (settings: CELERY_BROKER_TRANSPORT)."""

    Channel = RedisChannel
