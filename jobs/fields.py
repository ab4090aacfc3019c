"""Serializer building blocks shared by the job API and the executors' task schemas.

A floor module: it imports no other part of the service but jobs.durations and
jobs.safejson, so executors/ and catalog/ use it without importing the API.
"""

from __future__ import annotations

import difflib

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from jobs import safejson
from jobs.durations import format_duration, parse_duration


def unknown_fields(keys, known) -> dict[str, list[str]]:
    """An error for each of `keys` not in `known`, suggesting the closest known field
    (`url`: "Unknown field 'url'. Did you mean 'uri'?"); empty when all are known."""
    known = list(known)
    errors = {}
    for key in sorted(set(keys) - set(known), key=str):
        close = difflib.get_close_matches(str(key)[:100], known, n=1, cutoff=0.6)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        errors[key] = [f"Unknown field '{key}'.{hint}"]
    return errors


class StrictSerializer(serializers.Serializer):
    """A serializer that rejects keys it does not know, naming each one."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = unknown_fields(data, self.fields)
            if unknown:
                raise serializers.ValidationError(unknown)
        return super().to_internal_value(data)


@extend_schema_field({"oneOf": [{"type": "string", "example": "1h30m"}, {"type": "number"}]})
class DurationSecondsField(serializers.Field):
    """A duration given as "30s", "1h30m", "PT90S" or a number of seconds; stored as seconds."""

    default_error_messages = {"invalid": "{message}"}

    def __init__(self, *, positive: bool = True, **kwargs):
        self.positive = positive
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> float:
        try:
            value = parse_duration(data, positive=self.positive)
        except (ValueError, TypeError) as exc:
            self.fail("invalid", message=str(exc))
        return value.total_seconds()

    def to_representation(self, value) -> str:
        from datetime import timedelta

        return format_duration(timedelta(seconds=value))


class AnyJSONField(serializers.JSONField):
    """Any JSON value (object, array, string, number, bool, null).

    A JSON body was checked by the parser (jobs.api.parsers); a form field's JSON text
    (the browsable API) is parsed and checked here the same way: nesting depth, NUL and
    lone surrogates, errors naming the path inside the field.
    """

    def to_internal_value(self, data):
        if getattr(data, "is_json_string", False):
            try:
                return safejson.loads(str(data))
            except safejson.BadJSON as exc:
                raise serializers.ValidationError(exc.detail()) from None
            except ValueError:
                self.fail("invalid")
        return super().to_internal_value(data)
