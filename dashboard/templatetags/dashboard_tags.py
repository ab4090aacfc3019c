"""Template filters of the dashboard: durations and times written for people."""

from __future__ import annotations

from django import template
from django.utils import timezone

from ..charts import run_seconds
from ..formats import duration_text, ms_text, relative_text

register = template.Library()


@register.filter
def took(run) -> str:
    """A run's duration (started to finished), or empty."""
    return duration_text(run_seconds(run))


@register.filter
def lag(run) -> str:
    """How late a run started after its due time, or empty."""
    if run.started_at is None:
        return ""
    return duration_text(max((run.started_at - run.due_at).total_seconds(), 0))


@register.filter
def seconds(value) -> str:
    return duration_text(value)


@register.filter
def relative(moment) -> str:
    return relative_text(moment, timezone.now()) if moment else ""


@register.filter
def words(value) -> str:
    """`timed_out` -> `timed out`."""
    return str(value).replace("_", " ")


@register.filter
def milliseconds(value) -> str:
    return ms_text(value)
