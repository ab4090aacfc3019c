"""Sets of HTTP status codes a job counts as success, e.g. "200-299" or "200,204"."""

import re
from dataclasses import dataclass

LOWEST, HIGHEST = 100, 599
DEFAULT = "200-299"
_PART = re.compile(r"([0-9]+)(?:\s*-\s*([0-9]+))?")
_HELP = 'use a code like 204, a range like "200-299" or a list like "200,204,300-399"'


@dataclass(frozen=True)
class ExpectedRange:
    """Hold sorted, merged, inclusive (low, high) status ranges."""

    ranges: tuple[tuple[int, int], ...]

    def __contains__(self, code) -> bool:
        if isinstance(code, bool) or not isinstance(code, int):
            return False
        return any(low <= code <= high for low, high in self.ranges)

    def __str__(self) -> str:
        return ",".join(str(low) if low == high else f"{low}-{high}" for low, high in self.ranges)


def parse_expected_range(value) -> ExpectedRange:
    """Return the ExpectedRange for a string, int or list, or raise ValueError."""
    if isinstance(value, ExpectedRange):
        return value
    items = value if isinstance(value, list) else [value]
    ranges = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise ValueError(f"{item!r} is not a status code or range: {_HELP}")
        if isinstance(item, str) and not item.strip():
            raise ValueError(f"the expected status range is empty: {_HELP}")
        parts = [item] if isinstance(item, int) else item.split(",")
        ranges.extend(_parse_part(part) for part in parts)
    if not ranges:
        raise ValueError(f"the expected status range is empty: {_HELP}")
    return ExpectedRange(_merge(ranges))


def _parse_part(part: int | str) -> tuple[int, int]:
    if isinstance(part, int):
        low = high = part
    else:
        match = _PART.fullmatch(part.strip())
        if not match:
            shown = part.strip()
            what = f"'{shown}' is not a status code or range" if shown else "an empty entry"
            raise ValueError(f"{what}: {_HELP}")
        low = int(match[1])
        high = int(match[2]) if match[2] else low
    for code in (low, high):
        if not LOWEST <= code <= HIGHEST:
            raise ValueError(f"status code {code} is outside {LOWEST}-{HIGHEST}")
    if low > high:
        raise ValueError(f"the range {low}-{high} is backwards: put the lower code first")
    return low, high


def _merge(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        # Adjacent ranges merge too, so "200-299" and "200-250,251-299" compare equal.
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return tuple(merged)
