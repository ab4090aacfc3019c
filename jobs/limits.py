"""Limits on what an ordinary user may ask for (settings.SCHED_LIMITS, docs/security.md).

Superusers are not held to them; the hard bounds of jobs.schedules (years 1970-8999,
intervals up to 100 years) hold for everyone. Each check returns an error message naming
the limit, or None.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from croniter import croniter
from django.conf import settings

from .durations import format_duration
from .schedules import MACROS, Schedule

# A cron expression's shortest gap is looked for among this many of its first fires.
GAP_SAMPLE = 64
_PROBE = datetime(2000, 1, 1)


@dataclass(frozen=True)
class Limits:
    min_interval: timedelta
    max_interval: timedelta
    max_ahead: timedelta
    max_timeout: float  # seconds
    max_retry_delay: timedelta
    max_misfire_grace: float  # seconds
    max_cron_length: int
    max_task_bytes: int
    max_payload_bytes: int

    @classmethod
    def for_user(cls, user) -> Limits | None:
        """The limits `user` is held to; None for a superuser (or no user: internal calls)."""
        if user is None or getattr(user, "is_superuser", False):
            return None
        values = settings.SCHED_LIMITS
        return cls(
            min_interval=timedelta(seconds=values["MIN_INTERVAL"]),
            max_interval=timedelta(seconds=values["MAX_INTERVAL"]),
            max_ahead=timedelta(seconds=values["MAX_SCHEDULE_AHEAD"]),
            max_timeout=values["MAX_TIMEOUT"],
            max_retry_delay=timedelta(seconds=values["MAX_RETRY_DELAY"]),
            max_misfire_grace=values["MAX_MISFIRE_GRACE"],
            max_cron_length=values["MAX_CRON_LENGTH"],
            max_task_bytes=values["MAX_TASK_BYTES"],
            max_payload_bytes=values["MAX_PAYLOAD_BYTES"],
        )

    def cron_text_error(self, value) -> str | None:
        """Before parsing (its cost grows with its length): a cron expression too long."""
        if isinstance(value, dict) and isinstance(value.get("cron"), str):
            if len(value["cron"]) > self.max_cron_length:
                return (
                    f"the cron expression is {len(value['cron'])} characters long; "
                    f"the limit is {self.max_cron_length} (MAX_CRON_LENGTH)"
                )
        return None

    def schedule_error(self, schedule: Schedule, now: datetime) -> str | None:
        """An interval or a cron that fires too often or too rarely, a date too far ahead."""
        if schedule.kind == "once":
            return self.moment_error(schedule.at, now)
        gap = schedule.every if schedule.kind == "interval" else _shortest_gap(schedule.cron)
        if gap < self.min_interval:
            return (
                f"fires every {format_duration(gap)}; the shortest interval allowed is "
                f"{format_duration(self.min_interval)} (MIN_INTERVAL)"
            )
        if schedule.kind == "interval" and gap > self.max_interval:
            return (
                f"the interval {format_duration(gap)} is longer than the limit "
                f"{format_duration(self.max_interval)} (MAX_INTERVAL)"
            )
        return None

    def moment_error(self, moment: datetime, now: datetime) -> str | None:
        if moment - now > self.max_ahead:
            return (
                f"{moment.isoformat()} is more than {format_duration(self.max_ahead)} ahead "
                "(MAX_SCHEDULE_AHEAD)"
            )
        return None

    def timeout_error(self, seconds: float | None) -> str | None:
        if seconds is not None and seconds > self.max_timeout:
            return _over("timeout", seconds, self.max_timeout, "MAX_TIMEOUT")
        return None

    def misfire_grace_error(self, seconds: float | None) -> str | None:
        if seconds is not None and seconds > self.max_misfire_grace:
            return _over("misfire_grace", seconds, self.max_misfire_grace, "MAX_MISFIRE_GRACE")
        return None

    def retry_errors(self, policy) -> dict[str, list[str]]:
        errors = {}
        for key in ("delay", "max_delay"):
            value = getattr(policy, key)
            limit = self.max_retry_delay
            if value > limit:
                seconds = value.total_seconds()
                errors[key] = [_over(key, seconds, limit.total_seconds(), "MAX_RETRY_DELAY")]
        return errors

    def task_size_error(self, task: dict) -> str | None:
        """The stored task, without an uploaded script's content (SCRIPT_MAX_BYTES bounds it)."""
        stored = {key: value for key, value in task.items() if key != "content"}
        return _size_error("the task", stored, self.max_task_bytes, "MAX_TASK_BYTES")

    def payload_size_error(self, payload) -> str | None:
        return _size_error("the payload", payload, self.max_payload_bytes, "MAX_PAYLOAD_BYTES")


def _over(name: str, seconds: float, limit: float, setting: str) -> str:
    shown, most = (format_duration(timedelta(seconds=value)) for value in (seconds, limit))
    return f"{name} {shown} is longer than the limit {most} ({setting})"


def _size_error(what: str, value, limit: int, setting: str) -> str | None:
    size = len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass"))
    if size > limit:
        return f"{what} is {size} bytes as JSON; the limit is {limit} ({setting})"
    return None


def _shortest_gap(cron: str) -> timedelta:
    """The shortest gap between consecutive fires among the first GAP_SAMPLE (wall time)."""
    fires = croniter(MACROS.get(cron, cron), _PROBE, second_at_beginning=True)
    previous = fires.get_next(datetime)
    shortest = timedelta.max
    for _ in range(GAP_SAMPLE - 1):
        current = fires.get_next(datetime)
        shortest = min(shortest, current - previous)
        previous = current
    return shortest
