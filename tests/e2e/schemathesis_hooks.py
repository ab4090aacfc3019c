"""Schemathesis hooks for tests/e2e/test_schemathesis.py: valid values, mostly.

The document gives each task type and schedule form its own component; left to
themselves, generated values would mostly be refused (a random image name, base64 that
is no script, a delay of 10^18 hours) and few jobs would reach the services and the
database. Here the components' free fields get small lists of valid values before
generation, so that valid jobs get created, changed, paused and listed, and negative cases
mutate valid ones. HTTP tasks point at a closed loopback port, and the test's stack runs
no worker: nothing generated is executed.
"""

from __future__ import annotations

import copy
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

SCRIPT = "IyEvYmluL3NoCmVjaG8gaGkK"  # "#!/bin/sh\necho hi\n"
ENV = {
    "type": "object",
    "propertyNames": {"pattern": "^[A-Z][A-Z0-9_]{0,15}$"},
    "additionalProperties": {"type": "string"},
}
# component -> field -> the shape generation uses instead of the document's.
FIELDS: dict[str, dict[str, Any]] = {
    "HttpTask": {
        "uri": {"enum": [TARGET]},
        "headers": HEADERS,
        "expected_range": {"enum": ["200-299", "204", "200,204,300-399"]},
        "timeout": DURATION,
    },
    "CommandTask": {"env": ENV, "timeout": DURATION, "cwd": {"enum": ["/tmp", "/"]}},
    "ScriptTask": {
        "content": {"enum": [SCRIPT]},
        "filename": {"enum": ["hello.sh", "run"]},
        "env": ENV,
        "timeout": DURATION,
        "cwd": {"enum": ["/tmp"]},
    },
    "DockerTask": {
        "image": {"enum": ["busybox:1.36", "registry.internal:5000/tools/report:2.1"]},
        "env": ENV,
        "network": {"enum": ["none", "bridge"]},
        "memory": {"enum": ["256m", "1g", 67108864]},
        "cpus": {"enum": [0.5, 2]},
        "timeout": DURATION,
    },
    "CatalogTask": {"name": {"enum": ["sched.echo"]}},
    "ScheduleAt": {"enum": ["2030-01-24T12:28:27-08:00", "2031-06-01T08:00:00"]},
    "ScheduleDelay": {"enum": ["in 2m", "30s", "4d", "PT90S"]},
    "ScheduleEvery": {"every": DURATION},
    "ScheduleInterval": {"interval": {"enum": [{"minutes": 5}, {"hours": 1, "seconds": 30}]}},
    "ScheduleCron": {"cron": {"enum": ["*/5 * * * *", "@daily", "0 3 * * 1-5"]}},
    "Retry": {"max_attempts": {"enum": [1, 3]}, "delay": DURATION, "max_delay": {"enum": ["1h"]}},
    "JobInput": {
        "timezone": {"enum": ["UTC", "Europe/Paris", "America/Los_Angeles"]},
        "timeout": {**DURATION, "nullable": True},
        "misfire_grace": {**DURATION, "nullable": True},
    },
    "SchedulePreview": {"timezone": {"enum": ["UTC", "Europe/Paris"]}},
}
FIELDS["PatchedJobInput"] = FIELDS["JobInput"]

# Channels: their test messages are sent by the web process itself, to the same closed
# port (a refused connection) or the local SMTP server's (refused where there is none).
CHANNEL_FIELDS = {
    "url": {"enum": [TARGET]},
    "to": {"type": "array", "items": {"enum": ["ops@example.com", "a@example.org"]}},
}


FIELDS["ChannelInput"] = FIELDS["PatchedChannelInput"] = CHANNEL_FIELDS
# Run by superusers only (others get a 403): left out of generated tasks.
SUPERUSER_ONLY = ("run_as",)


TASKS = ("HttpTask", "CommandTask", "ScriptTask", "DockerTask", "CatalogTask")


@schemathesis.hook
def before_load_schema(context, raw_schema: dict[str, Any]) -> None:
    schemas = raw_schema.get("components", {}).get("schemas", {})
    # The task components describe answers too (StoredTask: timeouts in seconds, memory
    # in bytes): the requests' Task gets copies to steer, the answers keep the originals.
    task = schemas["Task"]
    steered = {f"{name}Fuzz" if name in TASKS else name: shape for name, shape in FIELDS.items()}
    for name in TASKS:
        schemas[f"{name}Fuzz"] = copy.deepcopy(schemas[name])
    task["oneOf"] = [{"$ref": f"{item['$ref']}Fuzz"} for item in task["oneOf"]]
    mapping = task["discriminator"]["mapping"]
    task["discriminator"]["mapping"] = {kind: f"{ref}Fuzz" for kind, ref in mapping.items()}
    for name, fields in steered.items():
        schema = schemas[name]
        if "enum" in fields:  # a string form of a schedule
            schema.pop("pattern", None)
            schema["enum"] = fields["enum"]
            continue
        properties = schema["properties"]
        for field, shape in fields.items():
            properties[field] = shape
        for field in SUPERUSER_ONLY:
            properties.pop(field, None)
