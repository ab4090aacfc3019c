"""End-to-end: command and script jobs run as real processes by the real worker."""

from __future__ import annotations

import base64
import os
import pwd
import time

import pytest

from tests.processes import SECRETS_PROBE, alive  # the worker runs on this host

from .harness import wait_until

pytestmark = [pytest.mark.e2e]


def _only_run(client, job_id: str) -> dict:
    (run,) = client.runs(job_id)
    return client.run(run["id"])


def test_a_commands_output_and_exit_code(carol):
    ok = carol.create_job(
        {"task": {"type": "command", "command": "echo hello   world"}, "schedule": "now"}
    )
    bad = carol.create_job(
        {
            "task": {
                "type": "command",
                "command": "echo partial; echo 'it broke' >&2; exit 7",
                "shell": True,
            },
            "schedule": "now",
        }
    )
    carol.wait_job(ok["id"], "succeeded")
    run = _only_run(carol, ok["id"])
    assert run["status"] == "succeeded"
    assert run["result"]["exit_code"] == 0
    assert run["result"]["stdout"] == "hello world\n"
    assert run["result"]["stderr"] == ""

    carol.wait_job(bad["id"], "failed")
    run = _only_run(carol, bad["id"])
    assert run["status"] == "failed"
    assert run["result"]["exit_code"] == 7
    assert run["result"]["stdout"] == "partial\n"
    assert run["result"]["stderr"] == "it broke\n"
    assert run["error"] == "Exited with code 7: it broke"


def test_a_timeout_kills_the_command_and_its_child(carol):
    job = carol.create_job(
        {
            "task": {
                "type": "command",
                "command": ["sh", "-c", "sleep 60 & echo $!; wait"],
                "timeout": "1s",
            },
            "schedule": "now",
        }
    )
    started = time.monotonic()
    carol.wait_job(job["id"], "failed", timeout=15)
    run = _only_run(carol, job["id"])
    assert run["status"] == "timed_out"
    assert run["error"] == "Timed out after 1s: the process group was stopped."
    # Ended by SIGTERM within the kill grace, long before the sleep's 60 s.
    assert time.monotonic() - started < 10
    child = int(run["result"]["stdout"])
    wait_until(lambda: not alive(child), timeout=5, what=f"child {child} gone")


def test_a_script_with_arguments(carol):
    script = '#!/bin/sh\necho "$(basename "$0") got $#:"\nfor a in "$@"; do echo "[$a]"; done\n'
    job = carol.create_job(
        {
            "task": {
                "type": "script",
                "filename": "greet.sh",
                "content": base64.b64encode(script.encode()).decode(),
                "args": ["one two", "three"],
            },
            "schedule": "now",
        }
    )
    assert "content" not in job["task"]
    assert job["task"]["size"] == len(script)
    carol.wait_job(job["id"], "succeeded")
    run = _only_run(carol, job["id"])
    assert run["result"]["exit_code"] == 0
    assert run["result"]["stdout"] == "greet.sh got 2:\n[one two]\n[three]\n"
    assert "content" not in carol.job(job["id"])["task"]


def test_a_superuser_may_run_as_another_user(dave, carol):
    if os.geteuid() != 0:
        pytest.skip("the worker is not root here: it cannot switch users")
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody' on this host")
    task = {"type": "command", "command": "id -un", "run_as": "nobody"}
    response = carol.post("jobs", {"task": task, "schedule": "now"})
    assert response.status_code == 403, response.text
    job = dave.create_job({"task": task, "schedule": "now"})
    dave.wait_job(job["id"], "succeeded")
    assert _only_run(dave, job["id"])["result"]["stdout"] == "nobody\n"


def test_a_command_cannot_read_the_workers_secrets(carol):
    # The worker's environment holds SECRET_KEY and DATABASE_URL (harness.PRODUCT_ENV).
    job = carol.create_job(
        {"task": {"type": "command", "command": SECRETS_PROBE, "shell": True}, "schedule": "now"}
    )
    carol.wait_job(job["id"], ("succeeded", "failed"))
    run = _only_run(carol, job["id"])
    out = run["result"]["stdout"] + run["result"]["stderr"]
    assert "SECRET_KEY=" not in out
    assert "DATABASE_URL=" not in out
    assert "probe-done" in out
    if os.geteuid() == 0:  # a root worker runs code as RUN_CODE_AS, nobody by default
        assert run["result"]["stdout"].splitlines()[0] == str(pwd.getpwnam("nobody").pw_uid)


def test_a_user_without_the_permission_gets_403(alice):
    script = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    for task in (
        {"type": "command", "command": "echo hi"},
        {"type": "script", "content": script, "args": []},
    ):
        response = alice.post("jobs", {"task": task, "schedule": "now"})
        assert response.status_code == 403, response.text
        assert "jobs.run_code" in response.json()["detail"]
    for kind in ("command", "script"):
        assert alice.ok(alice.get("jobs", params={"type": kind}))["count"] == 0
