"""Normal forms: a file's job equals the server's when the server would store it so."""

from __future__ import annotations

import base64
import hashlib

import pytest

from sched_cli.durations import format_ms, parse_ms
from sched_cli.normal import changed_fields, normal_job
from sched_cli.normal_task import normal_range, normal_task, parse_memory

# What the API answered for a job created from FILE_JOB (the server's normal forms).
SERVER_JOB = {
    "id": "5e0c7c1a-2f0e-4b8e-9f55-8d2b1b7a9c10",
    "name": "nightly",
    "product": "vps4",
    "group": "backups",
    "task": {
        "type": "http",
        "method": "POST",
        "uri": "https://backup.internal/run",
        "headers": {},
        "body": None,
        "expected_range": "200-299",
        "timeout": 30.0,
    },
    "payload": {},
    "schedule": {"kind": "cron", "cron": "0 3 * * *"},
    "timezone": "Europe/Paris",
    "start_at": "2030-01-01T07:00:00Z",
    "end_at": None,
    "max_runs": None,
    "timeout": "5m",
    "retry": {
        "max_attempts": 3,
        "backoff": "exponential",
        "delay": "10s",
        "max_delay": "10m",
        "jitter": 0.1,
    },
    "concurrency": "allow",
    "misfire_grace": None,
    "pause_after_failures": None,
    "notify": [
        {
            "channel": "6F1C0C2E-0000-4000-8000-000000000001",
            "on": ["recovery", "failure"],
            "every_failure": False,
        },
    ],
    "status": "scheduled",
}
FILE_JOB = {
    "name": "nightly",
    "task": {
        "uri": "https://backup.internal/run",
        "method": "post",
        "expected_range": "200-250, 251-299",
        "timeout": "30s",
    },
    "schedule": {"cron": " 0  3 * * * "},
    "timezone": "Europe/Paris",
    "start_at": "2030-01-01T08:00:00",  # wall time in Europe/Paris
    "timeout": 300,
    "retry": {"max_attempts": 3},
    "notify": [{"channel": "6f1c0c2e-0000-4000-8000-000000000001"}],
}


def test_a_minimal_file_job_equals_the_servers_full_form():
    assert changed_fields(normal_job(FILE_JOB), normal_job(SERVER_JOB)) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timeout": "6m"}, "timeout"),
        ({"retry": None}, "retry"),  # left out: the default policy, one attempt
        ({"schedule": {"cron": "0 4 * * *"}}, "schedule"),
        ({"concurrency": "forbid"}, "concurrency"),
        ({"notify": []}, "notify"),
        ({"start_at": "2030-01-01T08:00:00Z"}, "start_at"),
        ({"max_runs": 3}, "max_runs"),
    ],
)
def test_a_changed_field_is_found(change, field):
    assert changed_fields(normal_job({**FILE_JOB, **change}), normal_job(SERVER_JOB)) == [field]


def test_a_new_time_zone_moves_a_wall_time_given_without_offset():
    changed = changed_fields(normal_job({**FILE_JOB, "timezone": "UTC"}), normal_job(SERVER_JOB))
    assert changed == ["timezone", "start_at"]


def test_a_field_left_out_of_the_file_is_compared_with_its_default():
    job = {key: value for key, value in FILE_JOB.items() if key != "timeout"}
    assert changed_fields(normal_job(job), normal_job(SERVER_JOB)) == ["timeout"]


def test_a_task_key_left_out_differs_unless_the_server_holds_its_default():
    server = {**SERVER_JOB, "task": {**SERVER_JOB["task"], "headers": {"X-A": "1"}}}
    assert changed_fields(normal_job(FILE_JOB), normal_job(server)) == ["task"]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ({"every": 600}, {"kind": "interval", "every": "10m"}),
        ({"every": "PT10M"}, {"kind": "interval", "every": "10m"}),
        ({"interval": {"minutes": 5, "seconds": 30}}, {"kind": "interval", "every": "5m30s"}),
        ({"cron": "@Daily"}, {"kind": "cron", "cron": "@daily"}),
        ("2030-01-31T08:00:00+01:00", {"kind": "once", "at": "2030-01-31T07:00:00Z"}),
    ],
)
def test_schedules_written_otherwise_are_equal(given, stored):
    assert (
        normal_job({"schedule": given})["schedule"] == normal_job({"schedule": stored})["schedule"]
    )


def test_a_relative_one_off_schedule_matches_the_moment_the_server_fixed():
    stored = {"schedule": {"kind": "once", "at": "2026-12-02T17:39:05.233257Z"}}
    for given in ("now", "in 1h", "30s", "PT90S"):
        assert changed_fields(normal_job({"schedule": given}), normal_job(stored)) == []
    cron = {"schedule": {"kind": "cron", "cron": "0 3 * * *"}}
    assert changed_fields(normal_job({"schedule": "in 1h"}), normal_job(cron)) == ["schedule"]


def test_an_unreadable_value_is_kept_as_written_so_it_differs():
    assert normal_job({"timeout": "soon"})["timeout"] == "soon"
    assert changed_fields(normal_job({"timeout": "soon"}), normal_job({"timeout": None})) == [
        "timeout"
    ]


def test_a_script_content_is_compared_by_its_digest():
    data = b"#!/bin/sh\necho hi\n"
    given = {"type": "script", "content": base64.b64encode(data).decode()}
    stored = {
        "type": "script",
        "filename": "script",
        "args": [],
        "env": {},
        "content_path": "scripts/abc/script",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert normal_task(given) == normal_task(stored)
    other = {**given, "content": base64.b64encode(b"#!/bin/sh\n").decode()}
    assert normal_task(other) != normal_task(stored)


def test_docker_sizes_and_cpus_are_compared_by_value():
    given = {"type": "docker", "image": "busybox:1.36", "memory": "256m", "cpus": 1}
    stored = {
        **given,
        "memory": 268435456,
        "cpus": 1.0,
        "env": {},
        "pull": "missing",
        "network": "none",
    }
    assert normal_task(given) == normal_task(stored)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("200-300", "200-300"),
        (204, "204"),
        ([200, "300-399"], "200,300-399"),
        ("200-250,251-299", "200-299"),
        ("300, 200-204", "200-204,300"),
    ],
)
def test_expected_ranges_are_merged_as_the_server_does(given, stored):
    assert normal_range(given) == stored


def test_memory_sizes():
    assert parse_memory("1.5g") == 1610612736
    assert parse_memory("256MiB") == 268435456
    assert parse_memory(7000000) == 7000000


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("30s", 30000),
        ("1h30m", 5400000),
        ("500ms", 500),
        ("PT90S", 90000),
        ("in 2m", 120000),
        ("P1DT1H", 90000000),
        (1.5, 1500),
        ("1w", 604800000),
    ],
)
def test_durations_parse_as_the_server_reads_them(text, ms):
    assert parse_ms(text) == ms


@pytest.mark.parametrize("ms", [0, 250, 1500, 90000, 5400000, 90061001])
def test_durations_format_as_the_server_answers_and_parse_back(ms):
    assert parse_ms(format_ms(ms)) == ms
    assert format_ms(5400000) == "1h30m"
    assert format_ms(1500) == "1.5s"
