"""The dashboard's charts as inline SVG, made here (pure: numbers in, markup out).

No JavaScript and nothing to vendor (docs/design.md, "Dashboard"). Every mark carries its
numbers twice: in a <title> (the browser's tooltip, read by screen readers) and in data-*
attributes (what the tests read). Colours are the run statuses' (STATUS_COLOURS), the
same as the badges of dashboard.css.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .formats import clock_text, duration_text, ms_text, relative_text

# Bottom to top in a stacked bar; the badges of dashboard.css use the same colours.
STATUS_COLOURS = {
    "succeeded": "#2f9e44",
    "failed": "#e03131",
    "timed_out": "#f76707",
    "lost": "#9c36b5",
    "vetoed": "#c2255c",
    "missed": "#b08968",
    "skipped": "#adb5bd",
    "canceled": "#868e96",
    "running": "#1c7ed6",
    "pending": "#a5d8ff",
}
P50_COLOUR, P99_COLOUR = "#1c7ed6", "#f08c00"
GRID, AXIS_TEXT = "#e9ecef", "#868e96"

W, H = 640, 230  # the viewBox of the time charts; they scale to their box's width
LEFT, RIGHT, TOP, BOTTOM = 48, 10, 12, 26


def colour(status: str) -> str:
    return STATUS_COLOURS.get(status, "#495057")


def _attrs(**values) -> str:
    """data-bucket="..." etc.: names with _ become -, values escaped."""
    return "".join(
        f' {name.replace("_", "-")}="{escape(value)}"'
        for name, value in values.items()
        if value is not None
    )


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^k at least `value` (1 for nothing)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _svg(
    width: float, height: float, label: str, body: list[str], cls: str, natural: bool = False
) -> SafeString:
    """An <svg> that scales to its box's width, or keeps its own size (`natural`, for rows
    of text and dots, narrower than the box)."""
    size = f' width="{_num(width)}" height="{_num(height)}"' if natural else ""
    return mark_safe(
        f'<svg class="chart {cls}{" natural" if natural else ""}"{size}'
        f' viewBox="0 0 {_num(width)} {_num(height)}" role="img"'
        f' aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(body)
        + "</svg>"
    )


@dataclass
class TimeAxis:
    """Where the time charts put bucket i: slots of equal width, labels every few."""

    starts: Sequence[datetime]
    seconds: int

    @property
    def slot(self) -> float:
        return (W - LEFT - RIGHT) / max(len(self.starts), 1)

    def centre(self, i: int) -> float:
        return LEFT + self.slot * (i + 0.5)

    def labels(self) -> list[str]:
        every = max(1, math.ceil(len(self.starts) / 8))
        out = []
        for i, start in enumerate(self.starts):
            if i % every == 0:
                out.append(
                    f'<text x="{_num(self.centre(i))}" y="{H - 8}" text-anchor="middle"'
                    f' class="tick">{escape(clock_text(start, self.seconds))}</text>'
                )
        return out


def _y_grid(ticks: list[tuple[float, str]]) -> list[str]:
    out = []
    for y, text in ticks:
        out.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{_num(y)}" y2="{_num(y)}" stroke="{GRID}"/>'
            f'<text x="{LEFT - 6}" y="{_num(y + 4)}" text-anchor="end" class="tick">'
            f"{escape(text)}</text>"
        )
    return out


def runs_by_status(buckets, seconds: int, label: str) -> SafeString:
    """Stacked bars: each bucket's runs by status (dashboard.selectors.Bucket)."""
    axis = TimeAxis([b.start for b in buckets], seconds)
    plot = H - TOP - BOTTOM
    top = nice_ceiling(max((sum(b.counts.values()) for b in buckets), default=0))
    scale = plot / top
    body = _y_grid([(TOP + plot - plot * k / 2, f"{top * k / 2:g}") for k in (0, 1, 2)])
    width = max(axis.slot * 0.78, 1.0)
    for i, bucket in enumerate(buckets):
        total = sum(bucket.counts.values())
        when = clock_text(bucket.start, seconds)
        parts = ", ".join(f"{bucket.counts[s]} {s}" for s in STATUS_COLOURS if bucket.counts.get(s))
        body.append(
            f'<g class="bar"{_attrs(data_bucket=bucket.start.isoformat(), data_total=total)}>'
            f"<title>{escape(when)} UTC: {total} runs{': ' + escape(parts) if parts else ''}"
            "</title>"
        )
        y = TOP + plot
        x = axis.centre(i) - width / 2
        for status in STATUS_COLOURS:
            n = bucket.counts.get(status, 0)
            if not n:
                continue
            height = n * scale
            y -= height
            body.append(
                f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(width)}"'
                f' height="{_num(height)}" fill="{colour(status)}"'
                f"{_attrs(data_status=status, data_count=n)}>"
                f"<title>{escape(when)} UTC: {n} {escape(status)}</title></rect>"
            )
        body.append("</g>")
    body += axis.labels()
    return _svg(W, H, label, body, "runs-chart")


def _log_y(ms: float, top_ms: float) -> float:
    plot = H - TOP - BOTTOM
    return TOP + plot - plot * math.log10(max(ms, 1)) / math.log10(top_ms)


def fire_lag(buckets, seconds: int, label: str) -> SafeString:
    """Fire lag p50 and p99 per bucket, on a log scale from 1 ms."""
    axis = TimeAxis([b.start for b in buckets], seconds)
    highest = max((b.p99_ms or 0 for b in buckets), default=0)
    top_ms = 10 ** max(3, math.ceil(math.log10(max(highest, 1)) + 1e-9))  # at least 1 s
    ticks = [(_log_y(10**k, top_ms), ms_text(10**k)) for k in range(round(math.log10(top_ms)) + 1)]
    body = _y_grid(ticks)
    for name, attr, paint in (("p99", "p99_ms", P99_COLOUR), ("p50", "p50_ms", P50_COLOUR)):
        segment: list[str] = []
        segments = []
        for i, bucket in enumerate(buckets):
            value = getattr(bucket, attr)
            if value is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{_num(axis.centre(i))},{_num(_log_y(value, top_ms))}")
        if segment:
            segments.append(segment)
        for points in segments:
            if len(points) > 1:
                body.append(
                    f'<polyline class="line-{name}" fill="none" stroke="{paint}"'
                    f' stroke-width="2" stroke-linejoin="round" points="{" ".join(points)}"/>'
                )
    for i, bucket in enumerate(buckets):
        if bucket.p50_ms is None:
            continue
        when = clock_text(bucket.start, seconds)
        data = _attrs(
            data_bucket=bucket.start.isoformat(),
            data_p50_ms=_num(bucket.p50_ms),
            data_p99_ms=_num(bucket.p99_ms),
        )
        body.append(
            f'<g class="lag-point"{data}>'
            f"<title>{escape(when)} UTC: p50 {escape(ms_text(bucket.p50_ms))},"
            f" p99 {escape(ms_text(bucket.p99_ms))}</title>"
            f'<circle cx="{_num(axis.centre(i))}" cy="{_num(_log_y(bucket.p99_ms, top_ms))}"'
            f' r="2.5" fill="{P99_COLOUR}"/>'
            f'<circle cx="{_num(axis.centre(i))}" cy="{_num(_log_y(bucket.p50_ms, top_ms))}"'
            f' r="2.5" fill="{P50_COLOUR}"/></g>'
        )
    body += axis.labels()
    return _svg(W, H, label, body, "lag-chart")


def durations_by_job(rows, label: str) -> SafeString:
    """Horizontal bars, one row a job: p50 solid, p95 the lighter bar behind it.
    `rows`: (name, link, Durations)."""
    row_h, name_w, width = 28, 210, 880
    height = row_h * len(rows) + 8
    top_s = nice_ceiling(max((d.p95 for _, _, d in rows), default=0) * 1000) / 1000
    span = width - name_w - 150
    body = []
    for i, (name, link, d) in enumerate(rows):
        y = 4 + i * row_h
        p50_w, p95_w = d.p50 / top_s * span, d.p95 / top_s * span
        text = f"p50 {duration_text(d.p50)} · p95 {duration_text(d.p95)}"
        data = _attrs(
            data_job=name, data_p50_s=f"{d.p50:.6f}", data_p95_s=f"{d.p95:.6f}", data_runs=d.runs
        )
        body.append(
            f'<g class="duration"{data}>'
            f"<title>{escape(name)}: {escape(text)} (last {d.runs} runs)</title>"
            f'<a href="{escape(link)}"><text x="{name_w - 8}" y="{y + 18}" text-anchor="end"'
            f' class="label">{escape(_short(name, 30))}</text></a>'
            f'<rect x="{name_w}" y="{y + 6}" width="{_num(max(p95_w, 1))}" height="16"'
            f' rx="2" fill="{P50_COLOUR}" fill-opacity="0.25"/>'
            f'<rect x="{name_w}" y="{y + 6}" width="{_num(max(p50_w, 1))}" height="16"'
            f' rx="2" fill="{P50_COLOUR}"/>'
            f'<text x="{_num(name_w + max(p95_w, 1) + 8)}" y="{y + 18}" class="value">'
            f"{escape(text)}</text></g>"
        )
    return _svg(width, height, label, body, "durations-chart", natural=True)


def _short(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def run_dots(runs, link_of, label: str) -> SafeString:
    """A job's runs as dots, oldest first, 50 a row, coloured by status."""
    per_row, step, r = 50, 17, 6.5
    rows = max(1, math.ceil(len(runs) / per_row))
    width, height = per_row * step + 8, rows * step + 8
    body = []
    for i, run in enumerate(runs):
        cx, cy = 4 + step / 2 + (i % per_row) * step, 4 + step / 2 + (i // per_row) * step
        took = run_seconds(run)
        text = f"{run.due_at:%Y-%m-%d %H:%M:%S} UTC · {run.status}"
        if took is not None:
            text += f" · {duration_text(took)}"
        if run.attempt > 1:
            text += f" · attempt {run.attempt}"
        data = _attrs(
            data_run=str(run.id),
            data_status=run.status,
            data_duration_s=None if took is None else f"{took:.6f}",
        )
        body.append(
            f'<a href="{escape(link_of(run))}" class="dot"{data}>'
            f"<title>{escape(text)}</title>"
            f'<circle cx="{_num(cx)}" cy="{_num(cy)}" r="{r}" fill="{colour(run.status)}"/></a>'
        )
    return _svg(width, height, label, body, "dots-chart", natural=True)


def run_seconds(run) -> float | None:
    if run.started_at is None or run.finished_at is None:
        return None
    return (run.finished_at - run.started_at).total_seconds()


def duration_trend(runs, label: str) -> SafeString:
    """Each finished run's duration, oldest first: a line and dots in the runs' colours."""
    finished = [(run, took) for run in runs if (took := run_seconds(run)) is not None]
    plot = H - TOP - BOTTOM
    top = nice_ceiling(max((t for _, t in finished), default=0) * 1000) / 1000
    body = _y_grid(
        [(TOP + plot - plot * k / 2, duration_text(top * k / 2) if k else "0") for k in (0, 1, 2)]
    )
    slot = (W - LEFT - RIGHT) / max(len(finished), 1)
    points = []
    for i, (run, took) in enumerate(finished):
        x, y = LEFT + slot * (i + 0.5), TOP + plot - plot * took / top
        points.append((x, y, run, took))
    if len(points) > 1:
        line = " ".join(f"{_num(x)},{_num(y)}" for x, y, _, _ in points)
        body.append(f'<polyline fill="none" stroke="#ced4da" stroke-width="2" points="{line}"/>')
    for x, y, run, took in points:
        body.append(
            f'<circle cx="{_num(x)}" cy="{_num(y)}" r="3.5" fill="{colour(run.status)}"'
            f"{_attrs(data_run=str(run.id), data_duration_s=f'{took:.6f}')}>"
            f"<title>{run.due_at:%Y-%m-%d %H:%M:%S} UTC · {escape(run.status)} ·"
            f" {escape(duration_text(took))}</title></circle>"
        )
    if finished:
        first, last = finished[0][0].due_at, finished[-1][0].due_at
        body.append(
            f'<text x="{LEFT}" y="{H - 8}" class="tick">{first:%m-%d %H:%M}</text>'
            f'<text x="{W - RIGHT}" y="{H - 8}" text-anchor="end" class="tick">'
            f"{last:%m-%d %H:%M}</text>"
        )
    return _svg(W, H, label, body, "trend-chart")


# The timeline's ticks (seconds ahead); its axis is logarithmic from SOON on.
TIMELINE_TICKS = (0, 10, 60, 600, 3600, 6 * 3600, 86400, 7 * 86400)
TIMELINE_W, SOON = 1280, 5.0  # viewBox width; seconds the axis treats as "now"


def fire_timeline(fires, now: datetime, link_of, label: str) -> SafeString:
    """Upcoming fires on a time axis from now: `fires` are (job, moment), soonest first.

    The axis is logarithmic (now, +10 s, +1 min, +10 min, +1 h, ...) up to the last fire, so
    fires seconds away and a daily job's fire hours away are all told apart."""
    height, lanes = 100, 4
    ahead = [max((moment - now).total_seconds(), 0) for _, moment in fires]
    horizon = max(max(ahead, default=0), 60)
    span, axis_y = TIMELINE_W - LEFT - RIGHT - 30, height - 30

    def x_of(seconds: float) -> float:
        return LEFT + span * math.log1p(seconds / SOON) / math.log1p(horizon / SOON)

    body = [
        f'<line x1="{LEFT}" x2="{_num(x_of(horizon))}" y1="{axis_y}" y2="{axis_y}"'
        f' stroke="#ced4da"/>'
    ]
    for tick in TIMELINE_TICKS:
        if tick > horizon:
            break
        x = x_of(tick)
        text = "now" if tick == 0 else "+" + duration_text(tick)
        body.append(
            f'<line x1="{_num(x)}" x2="{_num(x)}" y1="{axis_y - 4}" y2="{axis_y + 4}"'
            f' stroke="#adb5bd"/><text x="{_num(x)}" y="{height - 10}" text-anchor="middle"'
            f' class="tick">{escape(text)}</text>'
        )
    last_x = [-100.0] * lanes
    for (job, moment), seconds in zip(fires, ahead, strict=True):
        x = x_of(seconds)
        lane = next((i for i in range(lanes) if x - last_x[i] >= 12), lanes - 1)
        last_x[lane] = x
        y = axis_y - 12 - lane * 14
        name = job.name or str(job.id)
        paint = colour("failed") if job.health == "failing" else colour("running")
        body.append(
            f'<a href="{escape(link_of(job))}" class="fire"'
            f"{_attrs(data_job=str(job.id), data_at=moment.isoformat())}>"
            f"<title>{escape(name)}: {escape(relative_text(moment, now))}"
            f" ({moment:%H:%M:%S} UTC)</title>"
            f'<circle cx="{_num(x)}" cy="{_num(y)}" r="5.5" fill="{paint}"'
            f' fill-opacity="0.9" stroke="#fff"/></a>'
        )
    return _svg(TIMELINE_W, height, label, body, "timeline-chart")
