"""What commands print: aligned tables for people, JSON for programs (--json)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable
from typing import Any

import click

MAX_CELL = 60  # characters; longer values are cut with "…"
# The API's instants, "2030-01-31T08:00:00.123456Z": a table shows them to the second.
_INSTANT = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})")


def show_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def cell(value: Any, limit: int = MAX_CELL) -> str:
    if value is None or value == "":
        text = "-"
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = _INSTANT.sub(r"\1 \2\3", str(value))
    text = " ".join(text.split())  # one line per row
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table(rows: Iterable[dict[str, Any]], columns: list[tuple[str, str]]) -> None:
    """Rows as aligned columns under upper-case headers; `columns`: (key, header)."""
    cells = [[cell(row.get(key)) for key, _ in columns] for row in rows]
    headers = [header.upper() for _, header in columns]
    widths = [max(len(text) for text in column) for column in zip(headers, *cells, strict=True)]
    for line in [headers, *cells]:
        click.echo(
            "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        )


def record(data: dict[str, Any], keys: list[str]) -> None:
    """One object as `key: value` lines, in the order of `keys`, absent ones skipped."""
    width = max((len(key) for key in keys if key in data), default=0)
    room = max(shutil.get_terminal_size((120, 20)).columns - width - 2, 40)
    for key in keys:
        if key in data:
            click.echo(f"{key.ljust(width)}  {cell(data[key], limit=room)}")


def note(message: str) -> None:
    """A remark for the person (stderr), never mixed into --json output."""
    click.echo(message, err=True)
