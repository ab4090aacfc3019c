"""Retry policy for failed job runs: how many attempts and how long to wait."""

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from jobs.durations import format_duration, parse_duration

BACKOFFS = ("fixed", "exponential")
MAX_ATTEMPTS = 100
DEFAULT_MAX_DELAY = timedelta(minutes=10)
_MS = timedelta(milliseconds=1)
KEYS = ("max_attempts", "backoff", "delay", "max_delay", "jitter")


class RetryError(ValueError):
    """Report a bad retry policy; `field` names the subfield, or None for the whole value."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class RetryPolicy:
    """Say when a failed attempt is retried.

    After attempt n (1-based) fails, and while n < max_attempts, the next attempt
    waits d = delay (fixed) or delay * 2**(n-1) (exponential), then
    d = min(d, max_delay), then d *= 1 + jitter * (2*rand() - 1).
    """

    max_attempts: int = 1
    backoff: str = "exponential"
    delay: timedelta = timedelta(seconds=10)
    max_delay: timedelta = DEFAULT_MAX_DELAY
    jitter: float = 0.1

    def delay_after(self, attempt: int, *, rand: Callable[[], float] = random.random) -> timedelta:
        """Return the wait before attempt+1, given that attempt `attempt` failed."""
        if attempt < 1:
            raise ValueError(f"attempt must be 1 or more, got {attempt}")
        seconds = self.delay.total_seconds()
        if self.backoff == "exponential":
            # Floats, not timedelta, so a huge attempt number saturates instead of overflowing.
            seconds *= 2.0 ** min(attempt - 1, 1000)
        seconds = min(seconds, self.max_delay.total_seconds())
        seconds *= 1 + self.jitter * (2 * rand() - 1)
        return timedelta(seconds=max(seconds, 0.0))

    def can_retry(self, attempt: int) -> bool:
        """Return whether another attempt may follow attempt `attempt`."""
        return attempt < self.max_attempts

    def to_json(self) -> dict:
        """Return the stored form, with durations as compact strings."""
        return {
            "max_attempts": self.max_attempts,
            "backoff": self.backoff,
            "delay": format_duration(self.delay),
            "max_delay": format_duration(self.max_delay),
            "jitter": self.jitter,
        }

    @classmethod
    def from_json(cls, data: dict | None) -> "RetryPolicy":
        """Rebuild a policy from to_json() output (None gives the default)."""
        return parse_retry(data)


def parse_retry(value) -> RetryPolicy:
    """Return the RetryPolicy for an API value or raise RetryError."""
    if value is None:
        return RetryPolicy()
    if not isinstance(value, dict):
        raise RetryError(
            "retry must be an object like "
            '{"max_attempts": 3, "backoff": "exponential", "delay": "10s"}'
        )
    unknown = sorted(str(key) for key in value if key not in KEYS)
    if unknown:
        raise RetryError(f"unknown retry key '{unknown[0]}': use {', '.join(KEYS)}")
    fields = {}
    if "max_attempts" in value:
        fields["max_attempts"] = _max_attempts(value["max_attempts"])
    if "backoff" in value:
        if value["backoff"] not in BACKOFFS:
            raise RetryError('backoff must be "fixed" or "exponential"', "backoff")
        fields["backoff"] = value["backoff"]
    for key in ("delay", "max_delay"):
        if key in value:
            fields[key] = _duration(key, value[key])
    if "jitter" in value:
        fields["jitter"] = _jitter(value["jitter"])
    delay = fields.get("delay", RetryPolicy.delay)
    if "max_delay" not in fields:
        # A long fixed delay alone should not be silently cut to the default cap.
        fields["max_delay"] = max(DEFAULT_MAX_DELAY, delay)
    elif delay > fields["max_delay"]:
        raise RetryError(
            f"delay ({format_duration(delay)}) must not be longer than "
            f"max_delay ({format_duration(fields['max_delay'])})",
            "delay",
        )
    return RetryPolicy(**fields)


def _max_attempts(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ATTEMPTS:
        raise RetryError(
            f"max_attempts must be a whole number from 1 to {MAX_ATTEMPTS}", "max_attempts"
        )
    return value


def _duration(key: str, value) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RetryError(f'{key} must be a duration like "10s" or a number of seconds', key)
    try:
        duration = parse_duration(value)
    except ValueError as exc:
        raise RetryError(f"{key}: {exc}", key) from None
    # to_json keeps milliseconds, so round here to make the round trip exact.
    return round(duration / _MS) * _MS


def _jitter(value) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= 1
    ):
        raise RetryError("jitter must be a number from 0 to 1", "jitter")
    return float(value)
