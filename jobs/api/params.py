"""Strict reading of integer query parameters: a 400 naming the parameter, never a 500."""

from __future__ import annotations

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
