"""What the engine tells the rest of the service, without importing it.

`fires_ended` is sent inside the transaction that records how fires ended, so what a
receiver writes (the notifications outbox) commits or rolls back with the outcome. The
engine knows nothing of its receivers: imports point from them to here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.dispatch import Signal


@dataclass(frozen=True, slots=True)
class FireEnd:
    """How one fire ended, and the events it raised (jobs.states.Event values)."""

    job_id: uuid.UUID
    owner_id: int
    product: str
    group: str
    run_id: uuid.UUID
    status: str
    events: tuple[str, ...]
    failures: int  # the job's consecutive failed fires, this one included


# Sent with `ends`: a list of FireEnd, in the transaction that recorded them.
fires_ended = Signal()


def send_fires_ended(ends: list[FireEnd]) -> None:
    if ends:
        fires_ended.send(sender=FireEnd, ends=ends)
