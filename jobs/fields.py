"""Serializer building blocks shared by the job API and the executors' task schemas.

A floor module: it imports no other part of the service but jobs.durations and
jobs.safejson, so executors/ and catalog/ use it without importing the API.
"""

from __future__ import annotations

import difflib
import threading

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict

from jobs import safejson
from jobs.durations import format_duration, parse_duration

# Serializers whose fields are built once per class and thread, not at every request.
#
# DRF builds a serializer's fields anew for every instance (declared fields deep-copied, a
# ModelSerializer's model fields introspected): 1.8 ms of the 2.3 ms a job's representation
# took, paid by every answer that holds one job (docs/benchmarks.md, "API creations"). The
# fields of a read-only serializer depend on its class alone, so each thread keeps the ones
# it built and binds them to its next serializer of that class. Per thread: a field is bound
# to one serializer at a time, and a thread serializes one answer at a time. Only for a
# serializer at the top (a nested one, or the child of a list, builds its own once, as DRF
# does: binding shared fields to two live parents would mix their contexts).
_built = threading.local()


class CachedFieldsMixin:
    """For serializers whose fields depend on their class alone (not on the context, the
    instance or `partial`): read-only representations."""

    @property
    def fields(self):
        bound = self.__dict__.get("_bound_fields")
        if bound is not None:
            return bound
        if self.parent is not None:
            bound = self.__dict__["_bound_fields"] = super().fields
            return bound
        cache = getattr(_built, "fields", None)
        if cache is None:
            cache = _built.fields = {}
        fields = cache.get(type(self))
        if fields is None:
            fields = cache[type(self)] = self.get_fields()
        bound = BindingDict(self)
        for name, field in fields.items():
            if field.parent is None:
                bound[name] = field  # bound the first time: its name and source set
            else:
                field.parent = self  # then only its parent changes
                bound.fields[name] = field
        self.__dict__["_bound_fields"] = bound
        return bound


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
