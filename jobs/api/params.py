"""Strict reading of query parameters: a 400 naming the parameter, never a 500."""

from __future__ import annotations

import difflib
import re

from rest_framework import serializers

# Plain decimal digits only: int() would also take "+5", " 5", "1_000" and other scripts'
# digits. 19 digits hold every bigint.
_DIGITS = re.compile(r"[0-9]{1,19}")


def int_param(request, name: str, *, default: int, minimum: int, maximum: int) -> int:
    """The integer `name` of the query string, `default` when absent; refuse anything
    that is not a whole number from `minimum` to `maximum` with a 400 naming it."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw):
        raise serializers.ValidationError(
            {name: [f"Expected a whole number from {minimum} to {maximum}."]}
        )
    value = int(raw)
    if not minimum <= value <= maximum:
        raise serializers.ValidationError({name: [f"Must be from {minimum} to {maximum}."]})
    return value


def unknown_params(request, known) -> dict[str, list[str]]:
    """An error for each query parameter not in `known`, suggesting the closest known one
    and listing them all."""
    known = sorted(known)
    errors = {}
    for name in sorted(set(request.query_params) - set(known)):
        close = difflib.get_close_matches(name[:100], known, n=1, cutoff=0.6)
        hint = f"Did you mean '{close[0]}'? " if close else ""
        errors[name[:100]] = [f"Unknown query parameter. {hint}Known: {', '.join(known)}."]
    return errors
