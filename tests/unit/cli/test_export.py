"""Export: job files with what is not a default, that normal-compare equal to the jobs."""

from __future__ import annotations

import pytest

from sched_cli.exporting import ExportProblem, documents, job_spec
from sched_cli.normal import changed_fields, normal_job

from .test_plan import RETRY, TASK, server_job

JOBS = [
    server_job("plain"),
    server_job(
        "busy",
        task={
            **TASK,
            "method": "POST",
            "headers": {"X-A": "1"},
            "body": {"vm": 1},
            "expected_range": "200-204",
            "timeout": 30.0,
        },
        schedule={"kind": "cron", "cron": "0 3 * * *"},
        timezone="Europe/Paris",
        start_at="2030-01-01T07:00:00Z",
        end_at="2031-01-01T07:00:00Z",
        max_runs=10,
        timeout="5m",
        retry={**RETRY, "max_attempts": 3, "delay": "1m"},
        concurrency="forbid",
        misfire_grace="0s",
        pause_after_failures=3,
        notify=[
            {"channel": "c1", "on": ["failure", "recovery"], "every_failure": True},
            {"channel": "c2", "on": ["success"], "every_failure": False},
        ],
    ),
    server_job("once", schedule={"kind": "once", "at": "2030-01-31T07:00:00Z"}),
    server_job(
        "cmd",
        task={
            "type": "command",
            "command": ["ls", "-l"],
            "shell": False,
            "env": {"A": "1"},
            "cwd": "/tmp",
            "timeout": 90.0,
        },
    ),
]


@pytest.mark.parametrize("job", JOBS, ids=lambda job: job["name"])
def test_an_exported_job_equals_the_job(job):
    assert changed_fields(normal_job(job_spec(job)), normal_job(job)) == []


def test_defaults_are_left_out_and_stored_forms_become_input_forms():
    assert job_spec(JOBS[0]) == {
        "name": "plain",
        "task": {"type": "http", "uri": "https://a.example/"},
        "schedule": {"every": "10m"},
    }
    assert job_spec(JOBS[2])["schedule"] == "2030-01-31T07:00:00Z"
    assert job_spec(JOBS[1])["retry"] == {"max_attempts": 3, "delay": "1m"}
    assert job_spec(JOBS[1])["task"]["timeout"] == "30s"
    assert job_spec(JOBS[1])["notify"] == [
        {"channel": "c1", "every_failure": True},
        {"channel": "c2", "on": ["success"]},
    ]


def test_jobs_are_grouped_by_namespace_and_sorted_by_name():
    other = server_job("z", product="mail", group="smtp")
    docs, notes = documents([JOBS[1], other, JOBS[0]])
    assert [(d["product"], d["group"], [j["name"] for j in d["jobs"]]) for d in docs] == [
        ("mail", "smtp", ["z"]),
        ("vps4", "dns", ["busy", "plain"]),
    ]
    assert notes == []


def test_a_job_without_a_namespace_is_left_out_with_a_note():
    docs, notes = documents([server_job("loose", product="", group="")])
    assert docs == []
    assert "no product or no group" in notes[0]


def test_jobs_apply_could_not_tell_apart_stop_the_export():
    with pytest.raises(ExportProblem, match="'twin' is not unique"):
        documents([server_job("twin", id="1"), server_job("twin", id="2")])
    with pytest.raises(ExportProblem, match="job 3 has no name"):
        documents([server_job("", id="3")])
