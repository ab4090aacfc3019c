"""JSON input the service can store and walk: bounded nesting, no NUL, no lone surrogates.

PostgreSQL refuses NUL (U+0000) in text and jsonb, and a lone surrogate (U+D800-U+DFFF)
cannot be encoded as UTF-8 at all: either one reaching the database is a 500. Python's
`json` module recurses once per nesting level, so a deep enough document is a
RecursionError. Every request body and query string is checked here before anything
else reads it; an error names the path of the first bad value.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from array import array
from collections.abc import Iterable
from typing import Any

from django.conf import settings

# A JSON string (escapes included), to drop strings before counting brackets.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# Opening brackets become 1 and closing ones 255 (-1 as a signed byte); the rest goes.
_DEPTH_TABLE = bytes(1 if chr(b) in "[{" else 255 if chr(b) in "]}" else 0 for b in range(256))
_NOT_BRACKETS = bytes(b for b in range(256) if chr(b) not in "[]{}")
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")


class BadJSON(ValueError):
    """A value the service cannot take; `path` leads to it (keys and list indexes)."""

    def __init__(self, path: tuple, message: str):
        super().__init__(message)
        self.path = path
        self.message = message

    def detail(self) -> Any:
        """As DRF shapes errors: ["..."], or {"task": {"headers": {"X-A": ["..."]}}}."""
        detail: Any = [self.message]
        for key in reversed(self.path):
            detail = {key: detail}
        return detail


def form_problem(data) -> tuple[str | None, str] | None:
    """The first name or value of a QueryDict (a query string, a form) that the database
    cannot store: (None, why) for a name, (the name, why) for a value; None if none."""
    for key, values in data.lists():
        problem = text_problem(key)
        if problem:
            return None, problem
        for value in values:
            problem = text_problem(value) if isinstance(value, str) else None
            if problem:
                return key, problem
    return None


def max_depth() -> int:
    return settings.API_MAX_JSON_DEPTH


def depth_error(limit: int) -> str:
    return f"JSON nested deeper than {limit} levels (the limit)."


def text_problem(text: str) -> str | None:
    """Why PostgreSQL cannot store `text`, or None. Never echoes the text itself."""
    match = _BAD_CHAR.search(text)
    if match is None:
        return None
    if match.group() == "\x00":
        return "Contains a NUL character (\\u0000), which cannot be stored."
    return "Contains a lone surrogate (\\ud800-\\udfff), which is not valid Unicode."


def nesting_depth(raw: bytes) -> int:
    """The deepest nesting of brackets in a JSON text, brackets inside strings ignored."""
    if raw.count(b"[") + raw.count(b"{") == 0:
        return 0
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS).translate(_DEPTH_TABLE)
    return max(itertools.accumulate(array("b", brackets)), default=0)


def check_value(value: Any, *, limit: int | None = None) -> None:
    """Raise BadJSON for the first string (key or value) with NUL or a lone surrogate,
    or the first container nested deeper than `limit` levels."""
    limit = max_depth() if limit is None else limit
    stack: list[tuple[Any, tuple, int]] = [(value, (), 1)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, str):
            problem = text_problem(node)
            if problem:
                raise BadJSON(path, problem)
            continue
        if isinstance(node, dict):
            items: Iterable = node.items()
        elif isinstance(node, list | tuple):
            items = enumerate(node)
        else:
            continue
        if depth > limit:
            raise BadJSON(path, depth_error(limit))
        children = []
        for key, child in items:
            if isinstance(key, str):
                problem = text_problem(key)
                if problem:
                    raise BadJSON(path, f"A key: {problem}")
            children.append((child, (*path, key), depth + 1))
        stack.extend(reversed(children))  # first in document order is reported


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON.")


def _finite_float(text: str) -> float:
    # 1e999 would be inf, which neither JSON nor jsonb can hold.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"Number out of range: {text[:40]}")
    return value


def loads(raw: bytes | str, *, limit: int | None = None) -> Any:
    """Parse a JSON text (bytes: UTF-8) and check it (see check_value). Raises BadJSON
    (path () for the document itself), or ValueError for text that is not JSON."""
    limit = max_depth() if limit is None else limit
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"Not valid UTF-8 at byte {exc.start}.") from None
        data = raw
    else:
        text, data = raw, raw.encode("utf-8", "surrogatepass")
    # Counted before parsing: json recurses once per level.
    if nesting_depth(data) > limit:
        raise BadJSON((), depth_error(limit))
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:  # not reached under the depth bound; never a 500 all the same
        raise BadJSON((), depth_error(limit)) from None
    # NUL and surrogates come in as \u escapes (raw ones are not JSON or not UTF-8).
    if "\\u" in text or _BAD_CHAR.search(text):
        check_value(value, limit=limit)
    return value
