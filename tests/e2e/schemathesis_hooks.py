"""Schemathesis hooks for tests/e2e/test_schemathesis.py: shapes for `task` and `schedule`.

The served OpenAPI document leaves `task` and `schedule` free-form (issue 16), so
generated jobs were never valid and every test stopped at validation: nothing got
created, changed, paused or listed. Here the document is given the shapes the API
takes (HTTP, command and catalog tasks; the schedule forms) before generation, so
that valid jobs reach the services and the database, and negative cases mutate valid
ones. HTTP tasks point at a closed loopback port, and the test's stack runs no
worker: nothing generated is executed.
"""

from __future__ import annotations

from typing import Any

import schemathesis

TARGET = "http://127.0.0.1:9/fuzz"
# Valid values mostly come from small lists, so that most generated jobs pass validation;
# free text stays where any text is valid (names, bodies, commands, environment values),
# which is where NUL, surrogates and odd Unicode must be handled.
DURATION = {"enum": ["30s", "1h30m", "PT90S", "2m", 45, "10m"]}
HEADERS = {
    "type": "object",
    "propertyNames": {"pattern": "^X-[A-Za-z]{1,12}$"},
    "additionalProperties": {"type": "string"},
}

HTTP_TASK = {
    "type": "object",
    "properties": {
        "type": {"enum": ["http"]},
        "method": {"enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]},
        "uri": {"enum": [TARGET]},
        "headers": HEADERS,
        "body": {},
        "expected_range": {"enum": ["200-299", "204", "200,204,300-399"]},
        "timeout": DURATION,
    },
    "required": ["uri"],
    "additionalProperties": False,
}
COMMAND_TASK = {
    "type": "object",
    "properties": {
        "type": {"enum": ["command"]},
        "command": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "env": {
            "type": "object",
            "propertyNames": {"pattern": "^[A-Z][A-Z0-9_]{0,15}$"},
            "additionalProperties": {"type": "string"},
        },
        "timeout": DURATION,
    },
    "required": ["type", "command"],
    "additionalProperties": False,
}
CATALOG_TASK = {
    "type": "object",
    "properties": {"type": {"enum": ["catalog"]}, "name": {"enum": ["sched.echo"]}},
    "required": ["type", "name"],
    "additionalProperties": False,
}
TASK = {"anyOf": [HTTP_TASK, COMMAND_TASK, CATALOG_TASK]}

MOMENT = {"enum": ["now", "in 2m", "30s", "4d", "PT90S", "2030-01-24T12:28:27-08:00"]}
LATER = {"enum": ["in 1h", "2030-01-24T12:28:27-08:00", "4d", None]}
SCHEDULE = {
    "anyOf": [
        MOMENT,
        {
            "type": "object",
            "properties": {"every": DURATION},
            "required": ["every"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"interval": {"enum": [{"minutes": 5}, {"hours": 1, "seconds": 30}]}},
            "required": ["interval"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"cron": {"enum": ["*/5 * * * *", "@daily", "0 3 * * 1-5"]}},
            "required": ["cron"],
            "additionalProperties": False,
        },
    ]
}
JOB_FIELDS = {
    "task": TASK,
    "schedule": SCHEDULE,
    "timezone": {"enum": ["UTC", "Europe/Paris", "America/Los_Angeles"]},
    "start_at": LATER,
    "end_at": LATER,
    "timeout": {**DURATION, "nullable": True},
    "misfire_grace": {**DURATION, "nullable": True},
    "retry": {
        "type": "object",
        "nullable": True,
        "properties": {"max_attempts": {"enum": [1, 3]}, "delay": DURATION},
        "additionalProperties": False,
    },
}

# Channels: their test messages are sent by the web process itself, to the same closed
# port (a refused connection) or the local SMTP server's (refused where there is none).
CHANNEL_FIELDS = {
    "url": {"enum": [TARGET]},
    "to": {"type": "array", "items": {"enum": ["ops@example.com", "a@example.org"]}},
}


@schemathesis.hook
def before_load_schema(context, raw_schema: dict[str, Any]) -> None:
    schemas = raw_schema.get("components", {}).get("schemas", {})
    for names, fields in (
        (("JobInput", "PatchedJobInput", "SchedulePreview"), JOB_FIELDS),
        (("ChannelInput", "PatchedChannelInput"), CHANNEL_FIELDS),
    ):
        for name in names:
            properties = schemas.get(name, {}).get("properties", {})
            for field, shape in fields.items():
                if field in properties:
                    properties[field] = shape
