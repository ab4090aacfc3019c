"""A notification as a delivery reads it: plain slotted rows, not model objects (whose
construction was a quarter of a delivery's CPU), made by the claim (delivery_sql.py) or,
for a notification this process delivers itself, by the outbox that made it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(slots=True)
class ChannelRow:
    """What a send reads of a channel (notifications/senders.py)."""

    id: uuid.UUID
    owner_id: int
    name: str
    kind: str
    url: str
    to: list
    secret: str


@dataclass(slots=True)
class JobRow:
    """What a notification's body says of its job (notifications/payloads.py)."""

    id: uuid.UUID
    name: str
    product: str
    group: str
    status: str
    health: str
    consecutive_failures: int


@dataclass(slots=True)
class RunRow:
    """What a notification's body says of its run."""

    id: uuid.UUID
    status: str
    attempt: int
    due_at: datetime
    finished_at: datetime | None
    error: str


@dataclass(slots=True)
class Claimed:
    """A notification ready for an attempt, with what its send and its body read."""

    id: uuid.UUID
    event: str
    created_at: datetime
    body: dict | None
    channel: ChannelRow
    job: JobRow | None
    run: RunRow | None
    attempts: int = 0
    # Held by this worker until then: set by the claim, or by the outbox when it hands a
    # new notification to this process's delivery threads already leased.
    lease: datetime | None = None

    @property
    def channel_id(self) -> uuid.UUID:
        return self.channel.id
