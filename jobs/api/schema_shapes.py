"""The shapes of the OpenAPI document that the serializers cannot tell drf-spectacular.

A job's `task`, `schedule` and `retry` are free-form JSON to DRF (each is validated by
code: executors/, jobs.schedules, jobs.retry), so the document would say "any". Here each
task type and each schedule form is a component of its own, with an example, and
serializer extensions put them in place of the free-form fields; nothing here changes
what the API accepts or answers (tests/integration/test_openapi.py checks the examples
against the API, tests/e2e/test_schemathesis.py the answers against the document).

Request bodies are StrictSerializers, which refuse unknown keys: their components say so
(`additionalProperties: false`).
"""

from __future__ import annotations

import copy
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.plumbing import ResolvedComponent, append_meta
from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from executors.catalog import CatalogTaskSerializer
from executors.command import CommandTaskSerializer
from executors.docker import MAX_CPUS, DockerTaskSerializer
from executors.http import METHODS, HttpTaskSerializer
from executors.process_task import StringField
from executors.script import ScriptTaskSerializer
from jobs.fields import StrictSerializer
from jobs.retry import BACKOFFS, MAX_ATTEMPTS
from jobs.schedules import INTERVAL_KEYS

from .serializers import (
    JobInputSerializer,
    JobSerializer,
    RunSerializer,
    SchedulePreviewSerializer,
)

# -------------------------------------------------------------------- plain JSON shapes

DURATION = {
    "oneOf": [
        {"type": "string", "example": "1h30m"},
        {"type": "number", "minimum": 0, "example": 90},
    ],
    "description": 'A duration: "30s", "1h30m", "4d", "1w", ISO 8601 "PT90S", or seconds.',
}
STRINGS = {"type": "array", "items": {"type": "string"}}
STRING_OR_INTEGER = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
COMMAND = {
    "oneOf": [{"type": "string"}, {**STRINGS, "minItems": 1}],
    "description": "A string split like a shell would (never run by one), or a list of arguments.",
}
# A delay, unlike a date-time, has no "-" (so the string forms never overlap): "30s",
# "1h30m", "in 2m", "PT90S" (the API also takes upper case units and spaces between parts).
DELAY_PATTERN = (
    r"^\s*(?:[Ii][Nn]\s+)?(?:(?:\d+(?:\.\d+)?\s*(?:ms|MS|[wdhmsWDHMS])\s*)+"
    r"|[Pp][0-9A-Za-z.,]*\d[0-9A-Za-z.,]*)$"
)
DATETIME_PATTERN = r"^\s*\d{4}-\d{2}-\d{2}[tT ]\d{2}:\d{2}"

# The raw components, by name; a `$ref` to another one registers it too (see ref()).
RAW: dict[str, dict[str, Any]] = {
    "ScheduleNow": {
        "type": "string",
        "enum": ["now"],
        "description": "Once, at once.",
        "example": "now",
    },
    "ScheduleAt": {
        "type": "string",
        "pattern": DATETIME_PATTERN,
        "description": "Once, at this ISO 8601 date-time; without an offset, the wall time "
        "in the job's `timezone`. One in the past runs at once.",
        "example": "2030-01-24T12:28:27-08:00",
    },
    "ScheduleDelay": {
        "type": "string",
        "pattern": DELAY_PATTERN,
        "description": 'Once, this long after the request: "30s", "2m", "1h30m", "4d", '
        '"1w", "in 2m" or ISO 8601 "PT90S".',
        "example": "in 2m",
    },
    "ScheduleEvery": {
        "type": "object",
        "properties": {"every": DURATION},
        "required": ["every"],
        "additionalProperties": False,
        "description": "Every interval of elapsed time (DST does not change it).",
        "example": {"every": "10m"},
    },
    "ScheduleInterval": {
        "type": "object",
        "properties": {
            "interval": {
                "type": "object",
                "properties": {key: {"type": "number", "minimum": 0} for key in INTERVAL_KEYS},
                "additionalProperties": False,
                "description": "The interval as a sum of any of these parts.",
            }
        },
        "required": ["interval"],
        "additionalProperties": False,
        "description": "Every interval of elapsed time, given in parts.",
        "example": {"interval": {"hours": 1, "minutes": 30}},
    },
    "ScheduleCron": {
        "type": "object",
        "properties": {
            "cron": {
                "type": "string",
                "description": "5 fields, or 6 with seconds first; or @hourly, @daily, "
                "@midnight, @weekly, @monthly, @yearly, @annually.",
            }
        },
        "required": ["cron"],
        "additionalProperties": False,
        "description": "Cron, in the job's `timezone` (a wall time a DST change skips runs "
        "once after the gap; one that occurs twice runs once).",
        "example": {"cron": "*/5 * * * *"},
    },
    "Schedule": {
        "oneOf": [
            {"$ref": "#/components/schemas/" + name}
            for name in (
                "ScheduleNow",
                "ScheduleAt",
                "ScheduleDelay",
                "ScheduleEvery",
                "ScheduleInterval",
                "ScheduleCron",
            )
        ],
        "description": "When the job fires: once (now, at a date-time, after a delay), every "
        "interval, or by cron.",
    },
    "Moment": {
        "oneOf": [
            {"$ref": "#/components/schemas/" + name}
            for name in ("ScheduleNow", "ScheduleAt", "ScheduleDelay")
        ],
        "description": "An instant: a date-time or a delay from now.",
    },
    "OnceSchedule": {
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": ["once"]},
            "at": {"type": "string", "format": "date-time"},
        },
        "required": ["kind", "at"],
        "example": {"kind": "once", "at": "2030-01-24T20:28:27Z"},
    },
    "IntervalSchedule": {
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": ["interval"]},
            "every": {"type": "string", "description": "The interval, normalized: 1h30m."},
        },
        "required": ["kind", "every"],
        "example": {"kind": "interval", "every": "10m"},
    },
    "CronSchedule": {
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": ["cron"]},
            "cron": {"type": "string", "description": "The expression, normalized."},
        },
        "required": ["kind", "cron"],
        "example": {"kind": "cron", "cron": "*/5 * * * *"},
    },
    "StoredSchedule": {
        "oneOf": [
            {"$ref": "#/components/schemas/" + name}
            for name in ("OnceSchedule", "IntervalSchedule", "CronSchedule")
        ],
        "discriminator": {
            "propertyName": "kind",
            "mapping": {
                kind: "#/components/schemas/" + name
                for kind, name in (
                    ("once", "OnceSchedule"),
                    ("interval", "IntervalSchedule"),
                    ("cron", "CronSchedule"),
                )
            },
        },
        "description": "A schedule as the job keeps it: `once` at an instant (UTC), "
        "`interval` (normalized duration) or `cron`; the zone is the job's `timezone`.",
    },
    "Retry": {
        "type": "object",
        "properties": {
            "max_attempts": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_ATTEMPTS,
                "default": 1,
                "description": "Every attempt counts (1: no retry).",
            },
            "backoff": {"type": "string", "enum": list(BACKOFFS), "default": "exponential"},
            "delay": {**DURATION, "description": "The first wait (default 10s)."},
            "max_delay": {
                **DURATION,
                "description": "The longest wait (default 10m, or `delay` if longer).",
            },
            "jitter": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "default": 0.1,
                "description": "Each wait is multiplied by a random factor in "
                "[1 - jitter, 1 + jitter].",
            },
        },
        "additionalProperties": False,
        "description": "How a failed or timed-out attempt is retried: the wait before "
        "attempt n+1 is `delay` (fixed) or `delay * 2^(n-1)` (exponential), at most "
        "`max_delay`, times the jitter.",
        "example": {"max_attempts": 3, "delay": "10s", "max_delay": "10m"},
    },
    "RetryPolicy": {
        "type": "object",
        "properties": {
            "max_attempts": {"type": "integer", "minimum": 1, "maximum": MAX_ATTEMPTS},
            "backoff": {"type": "string", "enum": list(BACKOFFS)},
            "delay": {"type": "string", "description": "Normalized: 10s."},
            "max_delay": {"type": "string", "description": "Normalized: 10m."},
            "jitter": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["max_attempts", "backoff", "delay", "max_delay", "jitter"],
        "description": "The job's retry policy, every key filled in.",
        "example": {
            "max_attempts": 3,
            "backoff": "exponential",
            "delay": "10s",
            "max_delay": "10m",
            "jitter": 0.1,
        },
    },
}


def ref(auto_schema, name: str) -> dict[str, str]:
    """A `$ref` to the component `name` (raw, or the Task union), registered with those
    it refers to."""
    if name in PROXIES:  # through the proxy: its components and the discriminator
        return auto_schema.resolve_serializer(PROXIES[name], "request").ref
    # A copy: drf-spectacular's enum hook rewrites the schemas of a document in place, and
    # the next request for the document must find RAW as it was.
    component = ResolvedComponent(
        name=name, type=ResolvedComponent.SCHEMA, object=name, schema=copy.deepcopy(RAW[name])
    )
    if component not in auto_schema.registry:
        auto_schema.registry.register(component)
        for target in _refs(RAW[name]):
            ref(auto_schema, target)
    return component.ref


def _refs(schema) -> set[str]:
    if isinstance(schema, dict):
        found = {schema["$ref"].rsplit("/", 1)[1]} if "$ref" in schema else set()
        if "discriminator" in schema:
            schema = {k: v for k, v in schema.items() if k != "discriminator"}
        return found.union(*(_refs(value) for value in schema.values()))
    if isinstance(schema, list):
        return set().union(*(_refs(item) for item in schema))
    return set()


# -------------------------------------------------------------------- tasks

HTTP_EXAMPLE = {
    "type": "http",
    "method": "POST",
    "uri": "https://svc.example.com/hook",
    "headers": {"X-Token": "secret"},
    "body": {"vm": 42},
    "expected_range": "200-299",
    "timeout": "30s",
}
COMMAND_EXAMPLE = {
    "type": "command",
    "command": "pg_dump -Fc -f /tmp/db.dump sched",
    "env": {"PGHOST": "db.internal"},
    "cwd": "/tmp",
    "timeout": "30m",
}
SCRIPT_EXAMPLE = {
    "type": "script",
    "filename": "hello.sh",
    "content": "IyEvYmluL3NoCmVjaG8gaGkK",  # "#!/bin/sh\necho hi\n"
    "args": ["--keep", "7"],
    "env": {"TARGET": "/var/log/app"},
    "timeout": "5m",
}
DOCKER_EXAMPLE = {
    "type": "docker",
    "image": "busybox:1.36",
    "command": ["sh", "-c", "echo hello"],
    "env": {"REGION": "eu"},
    "pull": "missing",
    "network": "none",
    "memory": "256m",
    "cpus": 0.5,
    "timeout": "20m",
}
CATALOG_EXAMPLE = {"type": "catalog", "name": "sched.echo"}
TASK_EXAMPLES = {
    "http": HTTP_EXAMPLE,
    "command": COMMAND_EXAMPLE,
    "script": SCRIPT_EXAMPLE,
    "docker": DOCKER_EXAMPLE,
    "catalog": CATALOG_EXAMPLE,
}


class StoredScriptTaskSerializer(StrictSerializer):
    """A script task as the job keeps it: the file is in storage, never returned."""

    type = serializers.ChoiceField(choices=["script"])
    filename = StringField()
    args = serializers.ListField(child=StringField())
    env = serializers.DictField(child=StringField())
    cwd = StringField(required=False)
    timeout = serializers.FloatField(required=False, help_text="Seconds.")
    run_as = StringField(required=False)
    content_path = StringField(help_text="Where the file is in the storage.")
    size = serializers.IntegerField(help_text="Bytes.")
    sha256 = StringField(help_text="Hex SHA-256 of the file, checked before each run.")


TASK = PolymorphicProxySerializer(
    component_name="Task",
    serializers={
        "http": HttpTaskSerializer,
        "command": CommandTaskSerializer,
        "script": ScriptTaskSerializer,
        "docker": DockerTaskSerializer,
        "catalog": CatalogTaskSerializer,
    },
    resource_type_field_name="type",
)
STORED_TASK = PolymorphicProxySerializer(
    component_name="StoredTask",
    serializers={
        "http": HttpTaskSerializer,
        "command": CommandTaskSerializer,
        "script": StoredScriptTaskSerializer,
        "docker": DockerTaskSerializer,
        "catalog": CatalogTaskSerializer,
    },
    resource_type_field_name="type",
)

PROXIES = {"Task": TASK, "StoredTask": STORED_TASK}

# What each serializer's component gets on top of what drf-spectacular maps:
# properties (a raw schema, or the name of a raw component), required fields, an example.
SHAPES: dict[type, dict[str, Any]] = {
    HttpTaskSerializer: {
        "description": "One HTTP request; the run succeeds if the status is in "
        "`expected_range`. (The API also takes an HTTP task without `type` when it has a "
        "`uri`.)",
        "properties": {
            "method": {"type": "string", "enum": list(METHODS), "default": "GET"},
            "uri": {"format": "uri", "description": "http or https, with a host."},
            "body": {
                "nullable": True,
                "description": "An object or array is sent as JSON, a string as is.",
            },
            "expected_range": {
                "oneOf": [
                    {"type": "string", "example": "200-299"},
                    {"type": "integer"},
                    {"type": "array", "items": STRING_OR_INTEGER},
                ],
                "default": "200-299",
                "description": 'Inclusive: "200-300", "204", "200,204,300-399", 204 or '
                '[200, "300-399"]; kept as a string.',
            },
        },
        "required": ["type"],
        "example": HTTP_EXAMPLE,
    },
    CommandTaskSerializer: {
        "description": "A command on a worker (needs the permission jobs.run_code).",
        "properties": {"command": COMMAND},
        "example": COMMAND_EXAMPLE,
    },
    ScriptTaskSerializer: {
        "description": "An uploaded script or binary, run on a worker (needs jobs.run_code).",
        "properties": {"content": {"format": "byte"}},
        "example": SCRIPT_EXAMPLE,
    },
    DockerTaskSerializer: {
        "description": "A container on the worker's engine (needs jobs.run_code).",
        "properties": {
            "command": COMMAND,
            "memory": {
                "oneOf": [{"type": "string", "example": "256m"}, {"type": "integer"}],
                "description": 'A limit: "256m", "1g" or bytes (at least 6m); kept in bytes.',
            },
            "cpus": {
                "oneOf": [
                    {"type": "number", "minimum": 0.01, "maximum": MAX_CPUS},
                    {"type": "string"},
                ],
                "description": f"A CPU limit from 0.01 to {MAX_CPUS}, e.g. 0.5.",
            },
        },
        "example": DOCKER_EXAMPLE,
    },
    CatalogTaskSerializer: {
        "description": "A task class registered by a plugin (GET /catalog); the job's "
        "`payload` is validated by its schema.",
        "required": ["type"],
        "example": CATALOG_EXAMPLE,
    },
    StoredScriptTaskSerializer: {
        "example": {
            "type": "script",
            "filename": "hello.sh",
            "args": [],
            "env": {},
            "content_path": "scripts/0b8f5c1e58d44a479a510c6f1f1c2d3e/hello.sh",
            "size": 18,
            "sha256": "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447",
        },
        "additionalProperties": None,  # a response: say nothing of other keys
    },
    JobInputSerializer: {
        "properties": {
            "task": "Task",
            "schedule": "Schedule",
            "start_at": "Moment",
            "end_at": "Moment",
            "retry": "Retry",
            "timezone": {"example": "Europe/Paris", "description": "An IANA zone name."},
        },
    },
    SchedulePreviewSerializer: {
        "description": "A schedule to check, as a job would take it.",
        "properties": {"schedule": "Schedule", "start_at": "Moment", "end_at": "Moment"},
    },
}


# What a field's own schema says that a shape put in its place keeps.
META = ("description", "nullable", "readOnly", "default")


def _apply(auto_schema, schema: dict[str, Any], shape: dict[str, Any]) -> dict[str, Any]:
    properties = schema.setdefault("properties", {})
    for name, extra in copy.deepcopy(shape.get("properties", {})).items():
        if isinstance(extra, str):  # a raw component, in place of the field's own schema
            field = properties.get(name, {})
            meta = {key: field[key] for key in META if key in field}
            properties[name] = append_meta(ref(auto_schema, extra), meta)
        elif "type" in extra or "oneOf" in extra:  # in place of the field's own type
            field = properties.get(name, {})
            keep = {key: field[key] for key in META if key in field}
            properties[name] = {**keep, **extra}
        else:  # more about the field: a format, a description
            properties[name] = {**properties.get(name, {}), **extra}
    required = set(schema.get("required", [])) | set(shape.get("required", []))
    if required:
        schema["required"] = sorted(required)
    for key in ("description", "example", "additionalProperties"):
        if shape.get(key) is not None:
            schema[key] = copy.deepcopy(shape[key])
    return schema


class StrictSerializerSchema(OpenApiSerializerExtension):
    """Request bodies refuse unknown keys; free-form fields get their real shapes."""

    target_class = StrictSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        shape = SHAPES.get(type(self.target), {})
        if "additionalProperties" not in shape:
            schema["additionalProperties"] = False
        return _apply(auto_schema, schema, shape)


class JobSchema(OpenApiSerializerExtension):
    """A job as the API answers it: its task, schedule and retry policy, normalized."""

    target_class = JobSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        return _apply(auto_schema, schema, SHAPES.get(type(self.target), {}))


class RunSchema(JobSchema):
    """A run with its result."""

    target_class = RunSerializer


READ_DURATION = {"type": "string", "nullable": True, "readOnly": True, "example": "5m"}
SHAPES[JobSerializer] = {
    "properties": {
        "task": "StoredTask",
        "schedule": "StoredSchedule",
        "retry": "RetryPolicy",
        "payload": {
            "type": "object",
            "additionalProperties": {},
            "description": "The catalog task's payload, normalized ({} for other tasks).",
        },
        # Written as a duration or seconds, answered normalized ("5m"); null: none.
        "timeout": READ_DURATION,
        "misfire_grace": READ_DURATION,
    },
}
SHAPES[RunSerializer] = {
    "properties": {
        "result": {
            "type": "object",
            "additionalProperties": {},
            "description": "What the run recorded, by task type: `status_code`, `body`, "
            "`body_truncated`, `elapsed_ms` (http); `exit_code`, `stdout`, `stderr`, "
            "`stdout_truncated`, `stderr_truncated`, `elapsed_ms` (command, script, docker, "
            "with `image`, `image_id`, `container_id`); the task's own answer (catalog). "
            "Empty until the run ends.",
        }
    }
}


# -------------------------------------------------------------------- answers without a serializer


class Answer(serializers.Serializer):
    """A response body the views build as a dict: described here, never instantiated."""


class UpcomingSerializer(Answer):
    """GET /jobs/{id}/upcoming."""

    id = serializers.UUIDField()
    schedule_description = serializers.CharField()
    timezone = serializers.CharField()
    upcoming = serializers.ListField(
        child=serializers.DateTimeField(),
        help_text="The next fire times, as the dispatcher will plan them (UTC).",
    )


class SchedulePreviewAnswerSerializer(Answer):
    """POST /schedules/preview: the schedule as a job would keep it, and its next fires."""

    schedule = serializers.JSONField()
    kind = serializers.ChoiceField(choices=["once", "interval", "cron"])
    recurring = serializers.BooleanField()
    timezone = serializers.CharField()
    description = serializers.CharField(help_text="The schedule in words.")
    upcoming = serializers.ListField(child=serializers.DateTimeField())


class CatalogEntrySerializer(Answer):
    """A registered catalog task."""

    name = serializers.CharField()
    product = serializers.CharField()
    group = serializers.CharField()
    description = serializers.CharField()
    payload_schema = serializers.DictField(help_text="The JSON schema of a job's payload.")
    permission = serializers.CharField(
        allow_null=True, help_text="The permission a job of it needs (null: none)."
    )


class CatalogListSerializer(Answer):
    """GET /catalog: every registered task (not paginated)."""

    count = serializers.IntegerField()
    results = CatalogEntrySerializer(many=True)


class HealthSerializer(Answer):
    """GET /health: "ok" or "error" per service (what failed goes to the log)."""

    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    database = serializers.ChoiceField(choices=["ok", "error"])
    broker = serializers.ChoiceField(choices=["ok", "error"])


SHAPES[SchedulePreviewAnswerSerializer] = {
    "properties": {"schedule": "StoredSchedule"},
    "example": {
        "schedule": {"kind": "cron", "cron": "0 3 * * *"},
        "kind": "cron",
        "recurring": True,
        "timezone": "Europe/Paris",
        "description": "At 03:00 AM (Europe/Paris)",
        "upcoming": ["2030-01-02T02:00:00Z", "2030-01-03T02:00:00Z"],
    },
}


class AnswerSchema(OpenApiSerializerExtension):
    target_class = Answer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        return _apply(auto_schema, schema, SHAPES.get(type(self.target), {}))


class ErrorSerializer(Answer):
    """Every error but an invalid request: 401, 403, 404, 409, 413, 429, 503."""

    detail = serializers.CharField()


class ValidationErrorSerializer(Answer):
    """400: each invalid field by its path, with its messages; `detail` for a problem with
    the whole request (the body is not JSON, a limit is reached)."""

    detail = serializers.CharField(
        required=False, help_text="A problem with the whole request, not one field."
    )


SHAPES[ErrorSerializer] = {"example": {"detail": "Not found."}}
SHAPES[ValidationErrorSerializer] = {
    "additionalProperties": {
        "description": "The messages of a field (a list of strings), or of the fields inside "
        "it (an object by name, or by index in a list)."
    },
    "example": {"task": {"expected_range": ["'999' is not a valid status code range."]}},
}
