"""Command-line values as the API takes them: schedules, JSON, NAME=value pairs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from . import yamlio


def schedule_value(text: str) -> Any:
    """A schedule as typed: `*/5 * * * *` and `@daily` are cron, `every 10m` an interval,
    `{...}` JSON; anything else ("now", "30s", "2030-01-31T08:00:00Z") goes as is."""
    stripped = text.strip()
    if stripped.startswith("{"):
        return json_value(stripped, "schedule")
    if stripped.startswith("@") or len(stripped.split()) in (5, 6):
        return {"cron": stripped}
    if stripped.lower().startswith("every "):
        return {"every": stripped[6:].strip()}
    return stripped


def json_value(text: str, what: str) -> Any:
    """JSON given inline, or `@FILE` for a JSON or YAML file (`@-`: stdin)."""
    if text.startswith("@"):
        name = text[1:]
        try:
            if name == "-":
                content = sys.stdin.read()
            else:
                content = Path(name).read_text(encoding="utf-8")
            documents = yamlio.load_all(content)
        except OSError as exc:
            raise click.BadParameter(f"cannot read {name}: {exc.strerror}") from None
        except yaml.YAMLError as exc:  # YAML reads JSON too
            raise click.BadParameter(f"{name}: not valid YAML or JSON: {exc}") from None
        return documents[0] if documents else None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"{what}: not valid JSON ({exc}): {text!r}") from None


def pairs(values: tuple[str, ...], what: str, separator: str = "=") -> dict[str, str]:
    """("A=1", "B=2") -> {"A": "1", "B": "2"}."""
    out = {}
    for value in values:
        name, found, rest = value.partition(separator)
        if not found or not name.strip():
            raise click.BadParameter(f"{what}: expected NAME{separator}VALUE, got {value!r}")
        out[name.strip()] = rest.strip() if separator == ":" else rest
    return out
