"""Code jobs cannot read the worker's secrets: its environment, memory, or what its user reaches.

A "worker" here is a real process started with a marker secret in its environment (as
SECRET_KEY and in DATABASE_URL), running the real command executor; the command looks
for the marker in /proc/<pid>/environ of its parent, of every ancestor, and of every
process it can see.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from executors.accounts import Account, reach_directory, resolve_account
from jobs.models import RunStatus
from tests.processes import SECRETS_PROBE

from .helpers import code_user
from .test_command_executor import the_run

pytestmark = [pytest.mark.django_db]

ROOT = Path(__file__).resolve().parents[2]

# The worker: Django set up with the real settings, the worker's start-up hook run (unless
# told not to), one command run by the real executor, its outcome as JSON.
WORKER = """
import json, sys
import django
django.setup()
from celery.signals import worker_process_init
from executors.registry import get_executor
from tests.contexts import run_context
import schedsite.celery
if sys.argv[1] == "guarded":  # what the worker's start-up signals run
    worker_process_init.send(sender=None)
context = run_context(
    {"type": "command", "command": sys.argv[2], "shell": True, "env": {}}, timeout=20
)
outcome = get_executor("command").run(context)
print(json.dumps({"status": outcome.status, "error": outcome.error, **outcome.result}))
"""


def run_worker(*, guarded: bool, run_code_as: str, no_capabilities: bool = False) -> tuple:
    """Start a worker process with a marker secret; (marker, its run's outcome)."""
    marker = f"marker-{uuid.uuid4().hex}-{uuid.uuid4().hex}"  # a SECRET_KEY of 50+ characters
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "schedsite.settings",
        "SECRET_KEY": marker,
        "DATABASE_URL": f"postgres://sched:{marker}@127.0.0.1:9/sched",
        "RUN_CODE_AS": run_code_as,
        "PYTHONPATH": str(ROOT),
    }
    argv = [sys.executable, "-c", WORKER, "guarded" if guarded else "plain", SECRETS_PROBE]
    if no_capabilities and os.geteuid() == 0:
        # uid 0 without a capability: the checks a worker of an ordinary user meets.
        argv = ["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", *argv]
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.splitlines()[-1])
    assert "probe-done" in outcome["stdout"], outcome  # the probe ran to its end
    return marker, outcome


def test_a_root_workers_command_runs_unprivileged_and_cannot_read_its_secrets():
    if os.geteuid() != 0:
        pytest.skip("the tests do not run as root: the worker cannot switch users")
    marker, outcome = run_worker(guarded=True, run_code_as="nobody")
    assert outcome["stdout"].splitlines()[0] == str(pwd.getpwnam("nobody").pw_uid)
    assert marker not in outcome["stdout"] + outcome["stderr"]
    assert "Permission denied" in outcome["stderr"]


@pytest.mark.skipif(
    os.geteuid() == 0 and not shutil.which("setpriv"), reason="no setpriv to drop capabilities"
)
def test_a_worker_that_cannot_switch_users_is_still_unreadable_by_its_runs():
    # Same user, no capabilities: only the worker's non-dumpable flag stands in the way.
    marker, outcome = run_worker(guarded=True, run_code_as="worker", no_capabilities=True)
    assert outcome["stdout"].splitlines()[0] == str(os.geteuid())
    assert marker not in outcome["stdout"] + outcome["stderr"]


@pytest.mark.skipif(
    os.geteuid() == 0 and not shutil.which("setpriv"), reason="no setpriv to drop capabilities"
)
def test_the_probe_finds_the_secret_in_a_worker_left_dumpable():
    # The control: without the flag, a run of the worker's own user reads it.
    marker, outcome = run_worker(guarded=False, run_code_as="worker", no_capabilities=True)
    assert f"SECRET_KEY={marker}" in outcome["stdout"]


def test_a_process_of_an_ordinary_user_made_non_dumpable_hides_its_environ_from_that_user():
    """The flag as the kernel applies it to a real non-root uid (stdlib only: the run's
    user may not reach this virtualenv)."""
    if os.geteuid() != 0:
        pytest.skip("the tests do not run as root: cannot start a process as another user")
    python = shutil.which("python3", path="/usr/bin:/bin:/usr/local/bin")
    if python is None:
        pytest.skip("no system python3 for the user nobody")
    nobody = pwd.getpwnam("nobody")
    workdir = tempfile.mkdtemp(prefix="sched-test-")
    try:
        os.chmod(workdir, 0o755)
        shutil.copy(ROOT / "schedsite" / "dumpable.py", workdir)
        script = (
            "import subprocess, sys, dumpable\n"
            "before = dumpable.is_dumpable()\n"
            "dumpable.make_non_dumpable()\n"
            "probe = subprocess.run(['sh', '-c', 'id -u; cat /proc/$PPID/environ'],\n"
            "    env={'PATH': '/usr/bin:/bin'}, capture_output=True, text=True, close_fds=True)\n"
            "print(before, dumpable.is_dumpable())\n"
            "print(probe.stdout)\n"
            "print(probe.stderr, file=sys.stderr)\n"
        )
        marker = f"marker-{uuid.uuid4().hex}-{uuid.uuid4().hex}"  # a SECRET_KEY of 50+ characters
        done = subprocess.run(
            [python, "-c", script],
            env={"PATH": "/usr/bin:/bin", "SECRET_KEY": marker},
            cwd=workdir,
            user=nobody.pw_uid,
            group=nobody.pw_gid,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "True False"
    assert lines[1] == str(nobody.pw_uid)  # the run is of the same user
    assert marker not in done.stdout + done.stderr
    assert "Permission denied" in done.stderr


# -- the user runs get


def test_runs_get_the_unprivileged_user_where_the_worker_is_root(coder, broker):
    run = the_run(coder, {"command": "sh -c 'id -u; id -G; echo $HOME $USER'"})
    assert run.status == RunStatus.SUCCEEDED, run.error
    uid, groups, home_user = run.result["stdout"].splitlines()
    user = code_user()
    assert int(uid) == user.pw_uid
    assert home_user == f"{user.pw_dir} {user.pw_name}"
    if os.geteuid() == 0:
        assert int(uid) != 0
        assert "0" not in groups.split()  # the worker's groups are dropped


@pytest.mark.parametrize("value", ["worker", ""])
def test_run_code_as_worker_keeps_the_workers_user(coder, broker, settings, value):
    settings.SCHED = {**settings.SCHED, "RUN_CODE_AS": value}
    run = the_run(coder, {"command": "id -u"})
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.result["stdout"] == f"{os.geteuid()}\n"


def test_a_worker_that_is_not_root_runs_code_as_itself_whatever_run_code_as_says(monkeypatch):
    monkeypatch.setattr("executors.process.os.geteuid", lambda: 54321)
    account = resolve_account(None)  # RUN_CODE_AS: nobody, the default
    assert (account.uid, account.switch) == (54321, False)


def test_run_code_as_an_unknown_user_fails_the_run_saying_so(coder, broker, settings):
    if os.geteuid() != 0:
        pytest.skip("RUN_CODE_AS applies where the worker is root")
    settings.SCHED = {**settings.SCHED, "RUN_CODE_AS": "no-such-user-xyz"}
    run = the_run(coder, {"command": "id -u"})
    assert run.status == RunStatus.FAILED
    assert run.error == "RUN_CODE_AS: there is no user 'no-such-user-xyz' on this worker host."


def test_a_superusers_run_as_wins_over_run_code_as(root, broker):
    if os.geteuid() != 0:
        pytest.skip("the tests do not run as root: the worker cannot switch users")
    run = the_run(root, {"command": "id -u", "run_as": "root"})
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.result["stdout"] == "0\n"


def test_a_run_keeps_no_descriptor_of_the_worker(coder, broker):
    with open(os.devnull) as held:  # an inheritable descriptor of the worker's
        os.set_inheritable(held.fileno(), True)
        run = the_run(coder, {"command": "ls /proc/self/fd"})
    # stdin, stdout, stderr, and the directory ls is listing.
    assert run.result["stdout"].split() == ["0", "1", "2", "3"]


# -- the working directory


def test_a_cwd_the_runs_user_may_not_reach_is_refused(coder, broker):
    if os.geteuid() != 0:
        pytest.skip("the tests do not run as root: runs keep the worker's user")
    locked = Path(tempfile.mkdtemp(prefix="sched-test-"))  # 0700, the worker's
    try:
        inner = locked / "open"
        inner.mkdir(mode=0o755)
        (inner / ".env").write_text(f"SECRET_KEY={uuid.uuid4().hex}\n")
        (inner / ".env").chmod(0o644)
        run = the_run(coder, {"command": "cat .env", "cwd": str(inner)})
        link = Path(tempfile.mkdtemp(prefix="sched-test-"))
        link.chmod(0o755)
        (link / "to").symlink_to(inner)  # a symlink on the way is followed, and checked
        through_link = the_run(coder, {"command": "cat .env", "cwd": str(link / "to")})
        shutil.rmtree(link)
    finally:
        shutil.rmtree(locked)
    assert run.status == RunStatus.FAILED
    assert run.result["stdout"] == ""
    assert run.error == (
        f"Cannot start 'cat': cannot enter the working directory '{inner}' as nobody: "
        "Permission denied."
    )
    assert through_link.status == RunStatus.FAILED
    assert through_link.result["stdout"] == ""


def test_the_directory_walk_follows_symlinks_and_dot_dot(tmp_path):
    nobody = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    account = Account(name="x", uid=nobody.pw_uid, gid=nobody.pw_gid, home="/", switch=True)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").symlink_to("a")
    fd = reach_directory("/tmp/../tmp/./", account)
    try:
        assert os.path.samefile(f"/proc/self/fd/{fd}", "/tmp")
    finally:
        os.close(fd)
    me = Account(name="me", uid=os.geteuid(), gid=os.getegid(), home="/", switch=True)
    fd = reach_directory(str(tmp_path / "b"), me)
    try:
        assert os.path.samefile(f"/proc/self/fd/{fd}", tmp_path / "a")
    finally:
        os.close(fd)
    with pytest.raises(NotADirectoryError):
        (tmp_path / "f").write_text("")
        reach_directory(str(tmp_path / "f"), me)
