"""Parse and format human durations ("1h30m", "PT90S", 30)."""

import math
import re
from datetime import timedelta

import isodate

_UNITS = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
    "s": timedelta(seconds=1),
    "ms": timedelta(milliseconds=1),
}
# "ms" must come before "m" or "500ms" would read as 500 minutes plus junk.
_PART = r"(\d+(?:\.\d+)?)\s*(ms|w|d|h|m|s)"
_COMPACT = re.compile(rf"(?:{_PART}\s*)+")
_PART_RE = re.compile(_PART)
_HELP = "use 30s, 1h30m, 4d or ISO 8601 like PT90S"
_NAMES = {"d": "day", "h": "hour", "m": "minute", "s": "second", "ms": "millisecond"}


def parse_duration(value, *, positive: bool = False) -> timedelta:
    """Return the timedelta for a duration string, number of seconds or timedelta."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration: {_HELP}")
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a duration: {_HELP}")
        try:
            result = timedelta(seconds=value)
        except OverflowError:
            raise ValueError(f"{value!r} is too long a duration") from None
    elif isinstance(value, str):
        result = _parse_text(value)
    else:
        raise ValueError(f"{value!r} is not a duration: {_HELP}")
    if positive and result <= timedelta(0):
        raise ValueError(f"duration {_show(value)} must be greater than zero")
    if result < timedelta(0):
        raise ValueError(f"duration {_show(value)} must not be negative")
    return result


def _show(value) -> str:
    return f"'{value}'" if isinstance(value, str) else repr(value)


def _parse_text(value: str) -> timedelta:
    text = value.strip().lower()
    if text.startswith("in "):
        text = text[3:].strip()
    try:
        if text.startswith("p") and any(c.isdigit() for c in text):
            return _parse_iso(value, text)
        if _COMPACT.fullmatch(text):
            total = timedelta(0)
            for number, unit in _PART_RE.findall(text):
                total += float(number) * _UNITS[unit]
            return total
    except OverflowError:
        raise ValueError(f"'{value}' is too long a duration") from None
    raise ValueError(f"'{value}' is not a duration: {_HELP}")


def _parse_iso(value: str, text: str) -> timedelta:
    try:
        result = isodate.parse_duration(text.upper())
    except (isodate.ISO8601Error, ValueError):
        raise ValueError(f"'{value}' is not a duration: {_HELP}") from None
    if not isinstance(result, timedelta):
        # Years and months have no fixed length, so they cannot be elapsed time.
        raise ValueError(
            f"'{value}' uses years or months, which have no fixed length: use days or weeks"
        )
    return result


def _parts(td: timedelta) -> list[tuple[str, str]]:
    """Split a non-negative timedelta into (number, unit) pairs, largest unit first."""
    ms = round(td / timedelta(milliseconds=1))
    days, ms = divmod(ms, 86_400_000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    seconds, ms = divmod(ms, 1000)
    parts = [(str(n), u) for n, u in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    if seconds and ms:
        parts.append((f"{seconds}.{ms:03d}".rstrip("0"), "s"))
    elif seconds:
        parts.append((str(seconds), "s"))
    elif ms:
        parts.append((str(ms), "ms"))
    return parts


def format_duration(td: timedelta) -> str:
    """Return the compact form of a timedelta, e.g. "1h30m" or "1.5s"."""
    if td < timedelta(0):
        return "-" + format_duration(-td)
    return "".join(n + u for n, u in _parts(td)) or "0s"


def describe_duration(td: timedelta) -> str:
    """Return a timedelta in words, e.g. "1 hour 30 minutes"."""
    words = [f"{n} {_NAMES[u]}{'' if n == '1' else 's'}" for n, u in _parts(td)]
    return " ".join(words) or "0 seconds"
