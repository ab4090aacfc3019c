"""Carry out a plan: the writes on a small pool of threads, each with a keep-alive session.

Creates and changes first, cancels (prune) after them, so a renamed job's new one exists
before the old one stops. Each create carries an Idempotency-Key, so one whose answer
was lost is sent again and still makes one job (docs/api.md, "Creates that can be
retried").
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from .client import ApiError, Client, Unreachable, ns_path
from .normal import changed_fields, normal_job
from .plan import CANCEL, CREATE, UPDATE, Action, Plan

DEFAULT_WORKERS = 8


@dataclass
class Outcome:
    done: list[tuple[Action, dict[str, Any]]] = field(default_factory=list)
    failed: list[tuple[Action, str]] = field(default_factory=list)
    # A write whose answer still differs from the file: the next apply would write again.
    drift: list[str] = field(default_factory=list)


def execute(
    client: Client,
    plan: Plan,
    *,
    workers: int = DEFAULT_WORKERS,
    on_done: Callable[[Action, str | None], None] | None = None,
) -> Outcome:
    """Send the plan's writes; `on_done(action, error)` as each one ends. A server that
    stops answering ends it all (Unreachable): the writes not yet sent are not sent."""
    outcome = Outcome()
    writes = [a for a in plan.actions if a.kind in (CREATE, UPDATE)]
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        for batch in (writes, plan.of(CANCEL)):
            futures = {pool.submit(_write, client, action): action for action in batch}
            for future in as_completed(futures):
                action, error = futures[future], future.exception()
                if isinstance(error, Unreachable):
                    for other in futures:
                        other.cancel()
                    raise error
                if error is not None and not isinstance(error, ApiError):
                    raise error
                message = None
                if error is None:
                    outcome.done.append((action, future.result()))
                    _check(action, future.result(), outcome)
                else:
                    message = "\n".join(error.messages()) or error.describe()
                    outcome.failed.append((action, message))
                if on_done:
                    on_done(action, message)
    return outcome


def _write(client: Client, action: Action) -> dict[str, Any]:
    if action.kind == CREATE:
        return client.create(ns_path(action.product, action.group), action.body)
    if action.kind == UPDATE:
        return client.patch(f"/api/v1/jobs/{action.job_id}", action.body)
    return client.delete(f"/api/v1/jobs/{action.job_id}")


def _check(action: Action, answer: dict[str, Any], outcome: Outcome) -> None:
    """Tell when the server stored a field otherwise than the file says."""
    if action.spec is None or not isinstance(answer, dict):
        return
    defaults = action.payload_defaults
    fields = changed_fields(normal_job(action.spec, defaults), normal_job(answer, defaults))
    if fields:
        outcome.drift.append(
            f"{action.label}: the server keeps {', '.join(fields)} otherwise than the file "
            "says, so the next apply will write it again; put the server's form in the file "
            "(see `sched export`)"
        )
