"""Command tasks: real processes through the API and the worker's code path."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import threading
import time

import pytest

from executors.process import SAFE_PATH
from executors.registry import get_executor
from jobs.models import Job, RunStatus
from tests.contexts import run_context
from tests.processes import alive

from .helpers import code_user, run_once

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _short_grace(settings):
    settings.SCHED = {**settings.SCHED, "KILL_GRACE": 0.5}


def run_command(client, task: dict, **extra) -> Job:
    """run_once of a command task."""
    return run_once(client, {"type": "command", **task}, **extra)


def the_run(client, task: dict, **extra):
    return run_command(client, task, **extra).runs.get()


def wait_gone(pid: int, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# -- output, exit code, splitting


def test_output_and_exit_code_are_recorded(coder, broker):
    job = run_command(coder, {"command": ["sh", "-c", "echo out; echo err >&2"]})
    run = job.runs.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert job.status == "succeeded"
    assert run.result["exit_code"] == 0
    assert run.result["stdout"] == "out\n"
    assert run.result["stderr"] == "err\n"
    assert run.result["stdout_truncated"] is False
    assert run.result["stderr_truncated"] is False
    assert isinstance(run.result["elapsed_ms"], int)
    assert run.error == ""


def test_a_string_is_split_without_a_shell(coder, broker):
    run = the_run(coder, {"command": "echo $HOME ; 'a  b' \"c d\" `id`"})
    assert run.status == RunStatus.SUCCEEDED
    assert run.result["stdout"] == "$HOME ; a  b c d `id`\n"


def test_shell_true_runs_a_shell(coder, broker):
    run = the_run(coder, {"command": "echo $((1 + 2)); echo second | tr s S", "shell": True})
    assert run.status == RunStatus.SUCCEEDED
    assert run.result["stdout"] == "3\nSecond\n"


def test_a_non_zero_exit_fails_naming_the_code(coder, broker):
    job = run_command(coder, {"command": ["sh", "-c", "echo done; echo 'disk full' >&2; exit 3"]})
    run = job.runs.get()
    assert run.status == RunStatus.FAILED
    assert job.status == "failed"
    assert run.result["exit_code"] == 3
    assert run.result["stdout"] == "done\n"
    assert run.error == "Exited with code 3: disk full"


def test_a_process_killed_by_a_signal_fails_naming_it(coder, broker):
    run = the_run(coder, {"command": "kill -SEGV $$", "shell": True})
    assert run.status == RunStatus.FAILED
    assert run.result["exit_code"] == -11
    assert "SIGSEGV" in run.error


# -- environment and working directory


def test_env_and_cwd(coder, broker, run_dir):
    run = the_run(
        coder,
        {
            "command": ["sh", "-c", 'echo "$FOO|$EMPTY|"; pwd'],
            "env": {"FOO": "b ar", "EMPTY": ""},
            "cwd": str(run_dir),
        },
    )
    assert run.status == RunStatus.SUCCEEDED
    assert run.result["stdout"] == f"b ar||\n{run_dir}\n"


def test_the_workers_environment_is_not_passed_on(coder, broker, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "worker-secret")
    monkeypatch.setenv("DATABASE_URL", "postgres://user:password@db/sched")
    monkeypatch.setenv("LEAKY_TOKEN", "x")
    job = run_command(coder, {"command": "env", "env": {"MINE": "1"}})
    run = job.runs.get()
    env = dict(line.split("=", 1) for line in run.result["stdout"].splitlines())
    assert "SECRET_KEY" not in env
    assert "DATABASE_URL" not in env
    assert "LEAKY_TOKEN" not in env
    assert "worker-secret" not in run.result["stdout"]
    me = code_user()
    assert env == {
        "PATH": SAFE_PATH,
        "HOME": me.pw_dir,
        "LANG": "C.UTF-8",
        "USER": me.pw_name,
        "LOGNAME": me.pw_name,
        "SCHED_JOB_ID": str(job.id),
        "SCHED_RUN_ID": str(run.id),
        "SCHED_ATTEMPT": "1",
        "SCHED_IDEMPOTENCY_KEY": str(run.idempotency_key),
        "MINE": "1",
    }


def test_the_task_env_may_set_path(coder, broker, run_dir):
    tool = run_dir / "mytool"
    tool.write_text("#!/bin/sh\necho mine\n")
    tool.chmod(0o755)
    run = the_run(coder, {"command": "mytool", "env": {"PATH": f"{run_dir}:/usr/bin:/bin"}})
    assert run.result["stdout"] == "mine\n"


def test_the_default_cwd_is_the_home_directory(coder, broker):
    run = the_run(coder, {"command": "pwd"})
    home = code_user().pw_dir
    assert run.result["stdout"] == f"{home if os.path.isdir(home) else '/'}\n"


# -- cannot start


def test_a_command_not_found_fails_clearly(coder, broker):
    run = the_run(coder, {"command": "no-such-command-xyz --flag"})
    assert run.status == RunStatus.FAILED
    assert run.error.startswith("Cannot start 'no-such-command-xyz': command not found")
    assert run.result["exit_code"] is None


def test_a_missing_path_fails_clearly(coder, broker):
    run = the_run(coder, {"command": ["/no/such/program"]})
    assert run.status == RunStatus.FAILED
    assert run.error == "Cannot start '/no/such/program': no such file."


def test_a_file_that_is_not_executable_fails_clearly(coder, broker, run_dir):
    path = run_dir / "data.txt"
    path.write_text("hello\n")
    run = the_run(coder, {"command": [str(path)]})
    assert run.status == RunStatus.FAILED
    assert "permission denied" in run.error


def test_a_missing_working_directory_fails_clearly(coder, broker):
    run = the_run(coder, {"command": "ls", "cwd": "/no/such/dir"})
    assert run.status == RunStatus.FAILED
    assert run.error == "Cannot start 'ls': the working directory '/no/such/dir' does not exist."


# -- timeouts, leftovers, stop


def test_a_timeout_kills_the_process_group_children_too(coder, broker, run_dir):
    pidfile = run_dir / "child.pid"
    started = time.monotonic()
    job = run_command(
        coder,
        {
            "command": ["sh", "-c", f"sleep 30 & echo $! > {pidfile}; echo started; wait"],
            "timeout": "0.5s",
        },
    )
    elapsed = time.monotonic() - started
    run = job.runs.get()
    assert run.status == RunStatus.TIMED_OUT
    assert job.status == "failed"
    assert run.error == "Timed out after 0.5s: the process group was stopped."
    assert run.result["stdout"] == "started\n"  # the output so far is kept
    child = int(pidfile.read_text())
    assert wait_gone(child), f"the child {child} survived the timeout"
    assert elapsed < 4, elapsed


def test_a_process_ignoring_sigterm_is_killed_after_the_grace(coder, broker, run_dir):
    pidfile = run_dir / "child.pid"
    started = time.monotonic()
    run = the_run(
        coder,
        {
            "command": f"trap '' TERM; sleep 30 & echo $! > {pidfile}; wait",
            "shell": True,
            "timeout": "0.3s",
        },
    )
    elapsed = time.monotonic() - started
    assert run.status == RunStatus.TIMED_OUT
    assert run.result["exit_code"] == -9
    assert wait_gone(int(pidfile.read_text()))
    assert 0.8 <= elapsed < 4, elapsed  # timeout + KILL_GRACE (0.5 s)


def test_the_jobs_timeout_applies_when_the_task_has_none(coder, broker):
    run = the_run(coder, {"command": "sleep 30"}, timeout="0.3s")
    assert run.status == RunStatus.TIMED_OUT


def test_processes_left_behind_are_stopped_when_the_command_exits(coder, broker):
    started = time.monotonic()
    run = the_run(coder, {"command": "sleep 30 & echo $!", "shell": True})
    assert run.status == RunStatus.SUCCEEDED
    assert wait_gone(int(run.result["stdout"]))
    assert time.monotonic() - started < 4


def test_a_process_that_left_the_group_does_not_hold_the_run(coder, broker):
    if not shutil.which("setsid"):
        pytest.skip("no setsid on this host")
    started = time.monotonic()
    run = the_run(coder, {"command": "setsid sleep 30 & echo $!", "shell": True})
    pid = int(run.result["stdout"])
    try:
        assert run.status == RunStatus.SUCCEEDED
        assert time.monotonic() - started < 3  # the pipe it holds is given up after 1 s
    finally:
        os.kill(pid, signal.SIGKILL)


def test_a_stop_request_ends_the_group_as_canceled(run_dir, settings):
    pidfile = run_dir / "child.pid"
    task = {
        "type": "command",
        "command": ["sh", "-c", f"sleep 30 & echo $! > {pidfile}; wait"],
        "shell": False,
        "env": {},
    }
    context = run_context(task)
    timer = threading.Timer(0.3, context.stop.set)
    timer.start()
    try:
        outcome = get_executor("command").run(context)
    finally:
        timer.cancel()
    assert outcome.status == RunStatus.CANCELED
    assert wait_gone(int(pidfile.read_text()))


# -- output limits


def test_output_is_cut_to_the_limit_without_blocking_the_child(coder, broker, settings):
    settings.SCHED = {**settings.SCHED, "OUTPUT_LIMIT": 1000}
    started = time.monotonic()
    run = the_run(
        coder,
        {"command": "head -c 5000000 /dev/zero | tr '\\0' a; echo e >&2", "shell": True},
    )
    assert run.status == RunStatus.SUCCEEDED
    assert run.result["stdout"] == "a" * 1000
    assert run.result["stdout_truncated"] is True
    assert run.result["stderr"] == "e\n"
    assert run.result["stderr_truncated"] is False
    assert time.monotonic() - started < 5


def test_binary_output_is_stored_as_text(coder, broker):
    run = the_run(coder, {"command": ["printf", "a\\000b\\377c"]})
    assert run.status == RunStatus.SUCCEEDED
    assert run.result["stdout"] == "a\ufffdb\ufffdc"


# -- the API: validation, normalization, permissions


def test_the_job_shows_the_task_normalized(coder, broker):
    response = coder.post(
        "/api/v1/jobs",
        {"task": {"type": "command", "command": "ls -la", "timeout": "1m"}, "schedule": "in 1h"},
        "json",
    )
    assert response.status_code == 201, response.data
    assert response.json()["task"] == {
        "type": "command",
        "command": "ls -la",
        "shell": False,
        "env": {},
        "timeout": 60.0,
    }
    assert response.json()["type"] == "command"


@pytest.mark.parametrize(
    "task, field",
    [
        ({}, "command"),
        ({"command": ""}, "command"),
        ({"command": "   "}, "command"),
        ({"command": []}, "command"),
        ({"command": ["ls", 3]}, "command"),
        ({"command": [""]}, "command"),
        ({"command": {"a": 1}}, "command"),
        ({"command": "echo 'unbalanced"}, "command"),
        ({"command": "echo a\x00b"}, "command"),
        ({"command": ["ls"], "shell": True}, "shell"),
        ({"command": "ls", "shell": "maybe"}, "shell"),
        ({"command": "ls", "env": {"1BAD": "x"}}, "env"),
        ({"command": "ls", "env": {"A=B": "x"}}, "env"),
        ({"command": "ls", "env": {"OK": None}}, "env"),
        ({"command": "ls", "env": {"N": 3}}, "env"),
        ({"command": "ls", "env": {"OK": "a\x00b"}}, "env"),
        ({"command": "ls", "env": ["A"]}, "env"),
        ({"command": "ls", "cwd": "relative/dir"}, "cwd"),
        ({"command": "ls", "cwd": 42}, "cwd"),
        ({"command": "ls", "timeout": "soon"}, "timeout"),
        ({"command": "ls", "run_as": "no/such"}, "run_as"),
        ({"command": "ls", "run_as": 0}, "run_as"),
        ({"command": "ls", "extra": 1}, "extra"),
    ],
)
def test_bad_tasks_are_refused_naming_the_field(coder, broker, task, field):
    response = coder.post(
        "/api/v1/jobs", {"task": {"type": "command", **task}, "schedule": "now"}, "json"
    )
    assert response.status_code == 400, response.data
    assert field in response.json()["task"], response.json()
    assert not Job.objects.exists()


def test_a_user_without_the_permission_gets_403(api, broker):
    response = api.post(
        "/api/v1/jobs", {"task": {"type": "command", "command": "ls"}, "schedule": "now"}, "json"
    )
    assert response.status_code == 403
    assert "jobs.run_code" in response.json()["detail"]
    assert not Job.objects.exists()


def test_run_as_needs_a_superuser(coder, broker):
    response = coder.post(
        "/api/v1/jobs",
        {"task": {"type": "command", "command": "id", "run_as": "nobody"}, "schedule": "now"},
        "json",
    )
    assert response.status_code == 403
    assert "run_as" in response.json()["detail"]
    assert not Job.objects.exists()


def test_run_as_a_missing_user_fails_at_run_time(root, broker):
    run = the_run(root, {"command": "id", "run_as": "no-such-user-xyz"})
    assert run.status == RunStatus.FAILED
    assert run.error == "run_as: there is no user 'no-such-user-xyz' on this worker host."


def test_run_as_fails_when_the_worker_cannot_switch_users(root, broker, monkeypatch):
    if not _has_user("nobody"):
        pytest.skip("no user 'nobody' on this host")
    monkeypatch.setattr("executors.process.os.geteuid", lambda: 54321)
    run = the_run(root, {"command": "id", "run_as": "nobody"})
    assert run.status == RunStatus.FAILED
    assert "cannot switch to user 'nobody'" in run.error
    assert "not root" in run.error


def test_run_as_switches_user(root, broker):
    if os.geteuid() != 0:
        pytest.skip("the test process is not root: it cannot switch users")
    if not _has_user("nobody"):
        pytest.skip("no user 'nobody' on this host")
    nobody = pwd.getpwnam("nobody")
    run = the_run(root, {"command": "sh -c 'id -un; id -u; id -G; echo $HOME'", "run_as": "nobody"})
    assert run.status == RunStatus.SUCCEEDED, run.error
    name, uid, groups, home = run.result["stdout"].splitlines()
    assert (name, int(uid), home) == ("nobody", nobody.pw_uid, nobody.pw_dir)
    assert "0" not in groups.split()  # root's groups are dropped


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
