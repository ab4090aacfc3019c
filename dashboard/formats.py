"""How the dashboard writes durations and times for people (pure)."""

from __future__ import annotations

from datetime import datetime


def duration_text(seconds: float | None) -> str:
    """`0.4 ms`, `12 ms`, `1.25 s`, `42 s`, `3 min 5 s`, `2 h 10 min`; an empty string for None."""
    if seconds is None:
        return ""
    ms = seconds * 1000
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(round(seconds) // 60, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def ms_text(ms: float | None) -> str:
    return "" if ms is None else duration_text(ms / 1000)


def relative_text(moment: datetime, now: datetime) -> str:
    """`in 12 s`, `3 min ago`, `now`."""
    seconds = (moment - now).total_seconds()
    if abs(seconds) < 0.5:
        return "now"
    text = duration_text(abs(round(seconds)) if abs(seconds) >= 10 else abs(seconds))
    return f"in {text}" if seconds > 0 else f"{text} ago"


def clock_text(moment: datetime, seconds: int = 60) -> str:
    """A bucket's start as its chart labels it: `14:05` (minutes, quarters), `Mon 14:00`."""
    if seconds >= 3600:
        return moment.strftime("%a %H:%M")
    return moment.strftime("%H:%M")
