"""Names in tasks are matched whole: a trailing newline is not a valid name."""

from __future__ import annotations

import base64

import pytest

from jobs.models import Job

pytestmark = pytest.mark.django_db

SCRIPT = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()


@pytest.mark.parametrize(
    ("task", "field"),
    [
        ({"type": "command", "command": ["true"], "env": {"NAME\n": "x"}}, "env"),
        ({"type": "command", "command": ["true"], "run_as": "nobody\n"}, "run_as"),
        ({"type": "script", "content": SCRIPT, "filename": "run.sh\n"}, "filename"),
    ],
)
def test_a_trailing_newline_is_refused_naming_the_field(root, task, field):
    response = root.post("/api/v1/jobs", {"task": task, "schedule": "1h"}, format="json")
    assert response.status_code == 400, response.data
    assert field in response.json()["task"]
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("task", "field", "stored"),
    [
        ({"type": "docker", "image": "busybox\n"}, "image", "busybox"),
        ({"type": "docker", "image": "busybox", "network": "bridge\n"}, "network", "bridge"),
        ({"type": "docker", "image": "busybox", "memory": "64m\n"}, "memory", 64 * 2**20),
    ],
)
def test_surrounding_whitespace_in_container_fields_is_trimmed_before_the_match(
    root, task, field, stored
):
    response = root.post("/api/v1/jobs", {"task": task, "schedule": "1h"}, format="json")
    assert response.status_code == 201, response.data
    assert Job.objects.get().task[field] == stored
