"""How a run's result is measured and told: elapsed time, a program's exit as an outcome."""

from __future__ import annotations

import time
from typing import Any

from jobs.states import RunStatus

from .base import Outcome

# The longest stderr line quoted in a failed run's error; a longer one ends with "…".
LAST_LINE_LIMIT = 200


def ms_since(started: float) -> int:
    """Milliseconds since `started`, a time.monotonic() reading."""
    return round((time.monotonic() - started) * 1000)


def last_line(text: str, limit: int = LAST_LINE_LIMIT) -> str:
    """The last non-blank line of `text`, stripped, at most `limit` characters."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def exit_outcome(
    result: dict[str, Any],
    *,
    ended_by: str | None,
    timeout: float | None,
    killed: str,
    stopped: str,
    failure: str,
) -> Outcome:
    """The outcome of a program (a process or a container) that ran.

    ended_by: RunStatus.TIMED_OUT or CANCELED when the executor ended it, else None.
    killed / stopped: what the executor did on a timeout / a stop ("the container was
    killed"). failure: how a non-zero exit reads ("Exited with code 3"); the error of a
    failed run ends with the last line of its stderr, the line most likely to say why.
    """
    if ended_by == RunStatus.TIMED_OUT:
        return Outcome(RunStatus.TIMED_OUT, result, f"Timed out after {timeout:g}s: {killed}.")
    if ended_by == RunStatus.CANCELED:
        return Outcome(RunStatus.CANCELED, result, f"Stopped: {stopped}.")
    if result["exit_code"] == 0:
        return Outcome(RunStatus.SUCCEEDED, result)
    last = last_line(result.get("stderr", ""))
    return Outcome(RunStatus.FAILED, result, f"{failure}: {last}" if last else f"{failure}.")
