"""How people are shown times, durations and states: the admin's columns and pages, and the
string of a run.

One format for every time (`DATETIME_FORMAT`: to the second, with the zone), which the
settings also give Django (schedsite/formats), so a date field the admin renders on its own
reads the same as the columns made here. Durations read like `1.2 s` or `3 min 4 s`.
Statuses are badges whose colour says good (green), bad (red), in between (amber) or
neither (grey); the colours live in ADMIN_CSS, a static file served with the admin's own.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import dateformat, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

# Django's date format syntax: 2026-12-02 11:05:03 UTC (the zone is the site's TIME_ZONE).
DATETIME_FORMAT = "Y-m-d H:i:s T"

# The admin's stylesheet (badges, short values), under jobs/static/.
ADMIN_CSS = "jobs/admin.css"

# What a state word says, for its badge's colour. A vetoed run is red: its fire counts as
# a failure (a `failure` event, the job's health). Anything else is grey.
GOOD = {"succeeded", "ok", "delivered"}
BAD = {"failed", "timed_out", "lost", "failing", "vetoed"}
BETWEEN = {"running", "paused", "skipped", "missed"}


def show_time(value: datetime | None) -> str:
    """A moment in the site's zone, to the second, with the zone's name; "-" for none."""
    if value is None:
        return "-"
    return dateformat.format(timezone.localtime(value), DATETIME_FORMAT)


def time_cell(value: datetime | None) -> SafeString:
    """show_time for a table cell: where the column is narrow, the date above the time with
    its zone, never a line break inside either."""
    date, _, rest = show_time(value).partition(" ")
    return format_html_join(
        " ", '<span class="sched-nowrap">{}</span>', ((part,) for part in (date, rest) if part)
    )


def name(value: object, *, tip: str = "", length: int = 24, narrow: bool = False) -> SafeString:
    """A name for a list cell: on one line, cut to `length` characters and to a width
    (wide scripts fill it sooner; `narrow`: a smaller one), the whole of it (or `tip`) in
    the tooltip."""
    text = str(value)
    return format_html(
        '<span class="sched-name{}" title="{}">{}</span>',
        " sched-narrow" if narrow else "",
        tip or text,
        cut(text, length),
    )


def words(value: object) -> SafeString:
    """Text for a narrow cell that wraps between words only, never at a hyphen inside one
    (a date, a name like nightly-backup)."""
    return format_html_join(
        " ", '<span class="sched-nowrap">{}</span>', ((word,) for word in str(value).split())
    )


def show_duration(value: timedelta | None) -> str:
    """A duration as people read it: `250 ms`, `1.2 s`, `42 s`, `3 min 4 s`, `2 h 5 min`,
    `3 d 4 h`: the two largest units, each rounded down (never more than it took)."""
    if value is None:
        return "-"
    if value < timedelta(0):
        return "-" + show_duration(-value)
    micros = value // timedelta(microseconds=1)
    if micros < 1_000_000:
        return f"{micros // 1000} ms"
    if micros < 10_000_000:
        tenths = micros // 100_000
        return f"{tenths // 10}.{tenths % 10} s"
    days, rest = divmod(micros // 1_000_000, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (seconds, "s")]
    while parts[0][0] == 0:
        parts.pop(0)
    return " ".join(f"{n} {unit}" for n, unit in parts[:2] if n)


def elapsed(started: datetime | None, finished: datetime | None) -> str:
    """How long something ran, from its start to its finish; "-" until it finished."""
    if started is None or finished is None:
        return "-"
    return show_duration(finished - started)


def colour(word: str) -> str:
    if word in GOOD:
        return "green"
    if word in BAD:
        return "red"
    if word in BETWEEN:
        return "amber"
    return "grey"


def badge(word: str, text: str | None = None, *, title: str = "") -> SafeString:
    """A state as a coloured label: `word` picks the colour, `text` (default: the word) is
    shown, `title` is the tooltip."""
    return format_html(
        '<span class="sched-badge sched-{}" title="{}">{}</span>',
        colour(word),
        title,
        word if text is None else text,
    )


def cut(text: str, length: int) -> str:
    """`text` in at most `length` characters, an ellipsis ending one that was cut."""
    return text if len(text) <= length else text[: length - 1] + "…"


def short(value: object, length: int = 12) -> SafeString:
    """A long value cut to `length` characters, the whole of it in the tooltip."""
    text = "" if value is None else str(value)
    if len(text) <= length:
        return format_html("{}", text)
    return format_html('<span title="{}">{}</span>', text, cut(text, length))


# A run's error in a log line: at most this many characters, on one line.
LOG_ERROR_LENGTH = 500


def log_run_ended(log, status: str, job, run_id, attempt: int, error: str, then: str = "") -> None:
    """One WARNING line for a run that ended badly (failed, timed_out, lost): the job's name,
    the run, and its error on one line, so that `LOG_LEVEL=INFO` shows why work failed
    without a look at the database. `then`: what follows (a retry, a recovery)."""
    text = " ".join(error.split()) or "(no error text)"
    log.warning(
        "run %s: job %r (%s) run=%s attempt=%d%s: %s",
        status,
        job.name or "",
        job.id,
        run_id,
        attempt,
        f", {then}" if then else "",
        cut(text, LOG_ERROR_LENGTH),
    )
