"""sched export writes the caller's jobs as a file apply takes back unchanged."""

from __future__ import annotations

import base64
import json

import pytest

from jobs.models import Job

from .conftest import write

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()


def make_jobs(sched) -> None:
    """Jobs of every kind, made through the API (not by apply), with non-default fields."""
    bodies = [
        {
            "name": "web",
            "product": "vps4",
            "group": "web",
            "task": {
                "uri": "https://a.example/",
                "method": "PUT",
                "headers": {"X-A": "1"},
                "body": {"vm": 42},
                "expected_range": [200, "300-302"],
                "timeout": "20s",
            },
            "schedule": {"cron": "*/5 9-17 * * mon-fri"},
            "timezone": "Europe/Paris",
            "retry": {"max_attempts": 4, "backoff": "fixed"},
            "timeout": "1m",
            "concurrency": "replace",
            "misfire_grace": 0,
            "pause_after_failures": 5,
            "start_at": "2030-01-01T00:00:00Z",
            "end_at": "2031-06-01T12:00:00+02:00",
            "max_runs": 100,
        },
        {
            "name": "cmd",
            "product": "vps4",
            "group": "ops",
            "task": {
                "type": "command",
                "command": ["sh", "-c", "echo $A"],
                "env": {"A": "1"},
                "cwd": "/tmp",
                "timeout": 90,
            },
            "schedule": {"interval": {"hours": 1, "minutes": 30}},
        },
        {
            "name": "once",
            "product": "vps4",
            "group": "ops",
            "task": {"uri": "https://a.example/"},
            "schedule": "2030-01-31T08:00:00",
            "timezone": "America/New_York",
        },
        {
            "name": "script",
            "product": "vps4",
            "group": "ops",
            "task": {"type": "script", "content": SCRIPT, "filename": "hi.sh", "args": ["x"]},
            "schedule": {"every": "1d"},
        },
        {
            "name": "echo",
            "product": "sched",
            "group": "tools",
            "task": {"type": "catalog", "name": "sched.echo"},
            "payload": {"message": "hi"},
            "schedule": "in 2h",
        },
        {"name": "loose", "task": {"uri": "https://a.example/"}, "schedule": "1h"},
    ]
    for body in bodies:
        sched.run("jobs", "create", "-f", "-", input=json.dumps(body))


def test_export_then_apply_changes_nothing(alice_cli, tmp_path):
    make_jobs(alice_cli)
    path = str(tmp_path / "export.yaml")
    result = alice_cli.run("export", "-o", path)
    assert "left out job" in result.stderr and "(loose)" in result.stderr
    assert "wrote 5 jobs in 3 namespaces" in result.stderr
    text = (tmp_path / "export.yaml").read_text()
    assert "sha256:" in text and "content" not in text  # the API never returns a script

    before = {job.name: (job.revision, job.updated_at) for job in Job.objects.all()}
    applied = alice_cli.run("apply", "-f", path, "--prune")
    assert alice_cli.writes() == []
    assert applied.stdout.strip() == "created 0, changed 0, canceled 0; 5 unchanged"
    assert {job.name: (job.revision, job.updated_at) for job in Job.objects.all()} == before
    # And the export of what apply left is the same file.
    alice_cli.run("export", "-o", str(tmp_path / "again.yaml"))
    assert (tmp_path / "again.yaml").read_text() == text


def test_an_export_makes_the_same_jobs_for_another_user(alice_cli, bob_cli, tmp_path):
    make_jobs(alice_cli)
    Job.objects.filter(name="script").delete()  # its content cannot come from an export
    path = str(tmp_path / "export.yaml")
    alice_cli.run("export", "-o", path)
    created = bob_cli.run("apply", "-f", path)
    assert created.stdout.splitlines()[-1] == "created 4, changed 0, canceled 0; 0 unchanged"
    assert "note:" not in created.stderr
    bob_cli.run("export", "-o", str(tmp_path / "bob.yaml"))
    assert (tmp_path / "bob.yaml").read_text() == (tmp_path / "export.yaml").read_text()


def test_export_writes_only_the_callers_jobs(alice_cli, dana_cli, tmp_path):
    make_jobs(alice_cli)
    out = dana_cli.run("export").stdout
    assert out.startswith("# Written by `sched export`")
    assert "jobs:" not in out  # dana sees alice's jobs, but they are not hers


def test_export_refuses_jobs_apply_could_not_tell_apart(alice_cli):
    for _ in range(2):
        alice_cli.run(
            "jobs",
            "create",
            "--name",
            "twin",
            "--product",
            "p",
            "--group",
            "g",
            "--uri",
            "https://a.example/",
            "--schedule",
            "1h",
        )
    result = alice_cli.run("export", ok=False)
    assert "p/g: job" in result.stderr and "'twin' is not unique" in result.stderr


def test_a_script_from_an_export_applies_once_it_names_its_file(alice_cli, bob_cli, tmp_path):
    alice_cli.run(
        "jobs",
        "create",
        "-f",
        "-",
        input=(
            '{"name": "s", "product": "p", "group": "g", "schedule": {"every": "1h"},'
            f' "task": {{"type": "script", "content": "{SCRIPT}"}}}}'
        ),
    )
    path = tmp_path / "export.yaml"
    alice_cli.run("export", "-o", str(path))
    refused = bob_cli.run("apply", "-f", str(path), ok=False)
    assert "give content_file to create or change this script task" in refused.stderr
    (tmp_path / "s.sh").write_bytes(base64.b64decode(SCRIPT))
    write(
        path,
        path.read_text().replace(
            "    type: script\n", "    type: script\n    content_file: s.sh\n"
        ),
    )
    bob_cli.run("apply", "-f", str(path))
    # Alice's job, with the same content, is unchanged by the file that now names it.
    alice_cli.run("apply", "-f", str(path))
    assert alice_cli.writes() == []
