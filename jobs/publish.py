"""Put planned runs on the queue of their task type.

The messages are those of `execute_run.apply_async(args=[run id], queue=queue_for(type),
eta=..., expires=...)`, the task named, not imported (EXECUTE_RUN, EXECUTE_RUNS): built by
the same Celery message factory and sent by the same sender (`app.amqp.send_task_message`:
headers, routing, delivery mode, publish signals), so the worker runs them unchanged and
acks them late as the task says. What differs is the cost: one producer for the whole
call, task options and routes resolved once, each queue declared once, and the messages
sent in kombu's `Producer.batch()` (a non-transactional Redis pipeline): one round trip
per PUBLISH_CHUNK messages instead of a pooled producer, option merging and a round trip
per message (docs/benchmarks.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import islice

from celery import current_app
from celery.utils import uuid
from celery.utils.nodenames import anon_nodename
from django.conf import settings
from django.utils import timezone

from executors.registry import queue_for

from .models import Run

log = logging.getLogger(__name__)

# The worker's entry points (jobs/tasks.py registers them under these names). Messages name
# them; this module never imports the worker's side.
EXECUTE_RUN = "jobs.execute_run"  # args: [run id]
EXECUTE_RUNS = "jobs.execute_runs"  # args: [run ids, due times (epoch seconds)]

# Messages per Redis pipeline (one round trip). A chunk the broker refuses is counted
# unsent as a whole: its runs stay pending and the reaper publishes them again.
PUBLISH_CHUNK = 1000
# Redis commands one message may take in a batch (an LPUSH, and a PEXPIRE per priority
# step for a queue declared with x-expires): the batch never flushes inside a chunk.
_COMMANDS_PER_MESSAGE = 5


def publish(runs: Iterable[tuple[object, str, datetime]]) -> int:
    """Publish (run id, task type, due time) triples; return how many were sent.

    A publish that fails is only logged: the run stays `pending` in the database
    and the reaper publishes it again. When the broker fails a chunk, none of its
    messages count as sent (some may have been delivered: the claim drops duplicates)
    and the runs after it are not tried in this call.
    """
    sent = 0
    now = timezone.now()
    expires_after = timedelta(seconds=settings.SCHED["MESSAGE_EXPIRES"])
    sender = _Sender(now)
    runs = iter(runs)
    while chunk := list(islice(runs, PUBLISH_CHUNK)):
        prepared = []
        for bundle in _bundles(chunk):
            try:
                message = sender.build(
                    bundle,
                    eta=bundle.first_due if bundle.first_due > now else None,
                    expires=max(bundle.last_due, now) + expires_after,
                )
            except Exception:  # an unknown task type, say: the others still go
                log.warning(
                    "publish failed run=%s; the reaper will publish it again",
                    bundle.run_ids[0],
                    exc_info=True,
                )
                continue
            prepared.append(message)
        if not prepared:
            continue
        try:
            sender.send(prepared)
        except Exception:  # the broker is down or refused the batch: the reaper will retry
            log.warning(
                "publish failed for %d runs (first run=%s) and any after them; "
                "the reaper will publish them again",
                sum(len(m.run_ids) for m in prepared),
                prepared[0].run_ids[0],
                exc_info=True,
            )
            break
        sent += sum(len(m.run_ids) for m in prepared)
    return sent


def publish_runs(runs: Iterable[Run]) -> int:
    return publish((run.id, run.job.type, run.due_at) for run in runs)


class _Bundle:
    """Runs of one queue due within DISPATCH_BUNDLE_WINDOW of the first: one message."""

    __slots__ = ("queue", "run_ids", "dues")

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.run_ids: list[str] = []
        self.dues: list[datetime] = []

    @property
    def first_due(self) -> datetime:
        return self.dues[0]

    @property
    def last_due(self) -> datetime:
        return self.dues[-1]


def _bundles(runs: list[tuple[object, str, datetime]]) -> list[_Bundle]:
    """Group runs into bundles: same queue (one of DISPATCH_BUNDLE_QUEUES), due within the
    window of the bundle's first run, at most DISPATCH_BUNDLE runs; in due order. Any
    other run is a bundle of its own: a message per run."""
    sizes = dict.fromkeys(
        settings.SCHED["DISPATCH_BUNDLE_QUEUES"], settings.SCHED["DISPATCH_BUNDLE"]
    )
    window = timedelta(seconds=settings.SCHED["DISPATCH_BUNDLE_WINDOW"])
    open_by_queue: dict[str, _Bundle] = {}
    bundles: list[_Bundle] = []
    for run_id, task_type, due_at in sorted(runs, key=lambda run: run[2]):
        try:
            queue = queue_for(task_type)
        except Exception:
            queue = f"?{task_type}"
        bundle = open_by_queue.get(queue)
        full = bundle is not None and len(bundle.run_ids) >= sizes.get(queue, 1)
        if bundle is None or full or due_at - bundle.first_due > window:
            bundle = open_by_queue[queue] = _Bundle(queue)
            bundles.append(bundle)
        bundle.run_ids.append(str(run_id))
        bundle.dues.append(due_at)
    return bundles


class _Message:
    __slots__ = ("run_ids", "name", "message", "options")

    def __init__(self, run_ids, name, message, options):
        self.run_ids = run_ids
        self.name = name
        self.message = message
        self.options = options


class _TaskMessages:
    """What `send_task` works out for every message of one task, worked out once."""

    def __init__(self, app, name: str) -> None:
        self.app = app
        self.task = app.tasks[name]  # registered by the app's task autodiscovery
        self.name = name
        self.create = app.amqp.create_task_message
        # What send_task passes to create_task_message for every message of this task.
        self.fixed = {
            "reply_to": app.thread_oid,
            "time_limit": self.task.time_limit,
            "soft_time_limit": self.task.soft_time_limit,
            "create_sent_event": app.conf.task_send_sent_event,
            "ignore_result": self.task.ignore_result,
            "origin": anon_nodename(),
            "kwargsrepr": "{}",
        }
        # apply_async: the task's execution options under the caller's; send_task takes
        # out those it passes to the message factory, then asks the router.
        self.base = {
            key: value
            for key, value in self.task._get_exec_options().items()
            if key not in ("ignore_result", "time_limit", "soft_time_limit", "expires")
        }
        self.routes: dict[str, dict] = {}

    def route(self, queue: str) -> dict:
        options = self.routes.get(queue)
        if options is None:
            options = self.app.amqp.router.route(
                {**self.base, "queue": queue}, self.name, (), {}, self.task
            )
            self.routes[queue] = options
        return options


class _Sender:
    """Build and send execute_run / execute_runs messages as `apply_async` does (Celery's
    `send_task`), with what does not change from one message to the next worked out once."""

    def __init__(self, now: datetime):
        self.now = now
        # Worked out at the first message of each (a `now` job never sends a bundle). Per
        # call, as apply_async would: `reply_to` names the calling thread.
        self.tasks: dict[str, _TaskMessages] = {}
        self.app = current_app
        self.send_task_message = self.app.amqp.send_task_message

    def _messages_of(self, name: str) -> _TaskMessages:
        found = self.tasks.get(name)
        if found is None:
            found = self.tasks[name] = _TaskMessages(self.app, name)
        return found

    def build(self, bundle: _Bundle, *, eta: datetime | None, expires: datetime) -> _Message:
        if bundle.queue.startswith("?"):
            raise LookupError(f"no queue serves task type {bundle.queue[1:]!r}")
        if len(bundle.run_ids) == 1:
            args = [bundle.run_ids[0]]
            # saferepr of a one-string list is its repr (a run id is far below the
            # 1,024-character limit): worked out here, it costs a tenth.
            argsrepr = repr(args)
            task = self._messages_of(EXECUTE_RUN)
        else:
            args = [bundle.run_ids, [due.timestamp() for due in bundle.dues]]
            argsrepr = f"[{len(bundle.run_ids)} runs, first {bundle.run_ids[0]}]"
            task = self._messages_of(EXECUTE_RUNS)
        message = task.create(
            uuid(), task.name, args, {}, eta=eta, expires=expires, argsrepr=argsrepr, **task.fixed
        )
        # send_task turns a datetime `expires` into the message's TTL, in seconds.
        expiration = max((expires - self.now).total_seconds(), 0)
        options = {**task.route(bundle.queue), "expiration": expiration}
        return _Message(bundle.run_ids, task.name, message, options)

    def send(self, messages: list[_Message]) -> None:
        """Send the messages through one producer in one Redis pipeline; raise if the
        broker fails it (then none, some or all of them were delivered)."""
        with (
            self.app.producer_or_acquire() as producer,
            producer.batch(max_size=len(messages) * _COMMANDS_PER_MESSAGE),
        ):
            # send_task_message declares the message's queue before each publish
            # (cached per connection, but binding a copy of the queue every time):
            # bound to this producer's channel once, it is checked, not copied.
            bound: dict[str, object] = {}
            for item in messages:
                queue = item.options["queue"]
                declare = bound.get(queue.name)
                if declare is None:
                    declare = bound[queue.name] = [queue.bind(producer.channel)]
                # No per-message retry: the batch is sent (or not) as one pipeline.
                self.send_task_message(
                    producer, item.name, item.message, retry=False, declare=declare, **item.options
                )
