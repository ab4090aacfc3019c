"""Durations as the API reads and writes them ("30s", "1h30m", "PT90S", 600).

A copy of the server's rules (jobs/durations.py), kept here because this package never
imports the server: the CLI compares a file's "30m" with the API's "30m" or 1800.0 by
value. Values are whole milliseconds, as the server keeps them.
"""

from __future__ import annotations

import math
import re

_UNITS_MS = {"w": 604_800_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}
# "ms" before "m", or "500ms" would read as 500 minutes and junk.
_PART = r"(\d+(?:\.\d+)?)\s*(ms|w|d|h|m|s)"
_COMPACT = re.compile(rf"(?:{_PART}\s*)+")
_PART_RE = re.compile(_PART)
_NUMBER = r"(\d+(?:[.,]\d+)?)"
_ISO = re.compile(
    rf"p(?:{_NUMBER}w)?(?:{_NUMBER}d)?(?:t(?:{_NUMBER}h)?(?:{_NUMBER}m)?(?:{_NUMBER}s)?)?"
)
_ISO_UNITS = ("w", "d", "h", "m", "s")


def parse_ms(value) -> int:
    """Milliseconds of a duration (string or number of seconds); ValueError if not one."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{value!r} is not a duration")
        return round(value * 1000)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration")
    text = value.strip().lower()
    if text.startswith("in "):
        text = text[3:].strip()
    if _COMPACT.fullmatch(text):
        return round(sum(float(n) * _UNITS_MS[u] for n, u in _PART_RE.findall(text)))
    match = _ISO.fullmatch(text)
    if match and text not in ("p", "pt") and not text.endswith("t"):
        total = 0.0
        for number, unit in zip(match.groups(), _ISO_UNITS, strict=True):
            if number:
                total += float(number.replace(",", ".")) * _UNITS_MS[unit]
        return round(total)
    raise ValueError(f"{value!r} is not a duration: use 30s, 1h30m, 4d or PT90S")


def format_ms(ms: int) -> str:
    """The compact form the API answers, e.g. "1h30m", "1.5s", "250ms"."""
    days, ms = divmod(ms, 86_400_000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    seconds, ms = divmod(ms, 1000)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    if seconds and ms:
        parts.append(f"{seconds}.{ms:03d}".rstrip("0") + "s")
    elif seconds:
        parts.append(f"{seconds}s")
    elif ms:
        parts.append(f"{ms}ms")
    return "".join(parts) or "0s"
