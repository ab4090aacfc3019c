"""Script tasks: upload, storage, fetch into a private directory, run, clean up."""

from __future__ import annotations

import base64
import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from jobs import dispatch, runner
from jobs.models import Job, RunStatus
from tests.processes import alive

from .helpers import code_user, run_once, run_prune_scripts

pytestmark = [pytest.mark.django_db]

HELLO_C = r"""
#include <stdio.h>
int main(int argc, char **argv) {
    printf("hello from a static binary");
    for (int i = 1; i < argc; i++) printf(" [%s]", argv[i]);
    printf("\n");
    return 0;
}
"""


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    """A private storage root for each test; KILL_GRACE short."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.SCHED = {**settings.SCHED, "KILL_GRACE": 0.5}
    return tmp_path / "media"


@pytest.fixture(scope="session")
def static_binary(tmp_path_factory) -> Path:
    """A statically linked executable: built with gcc -static, else busybox-static."""
    workdir = tmp_path_factory.mktemp("static")
    gcc = shutil.which("gcc")
    if gcc:
        source = workdir / "hello.c"
        source.write_text(HELLO_C)
        binary = workdir / "hello"
        built = subprocess.run(
            [gcc, "-static", "-O2", "-o", str(binary), str(source)],
            capture_output=True,
            timeout=60,
        )
        if built.returncode == 0:
            return binary
    busybox = Path("/bin/busybox")
    if busybox.exists() and b"statically linked" in _file_type(busybox):
        return busybox
    pytest.skip("no static binary: install gcc with a static libc, or busybox-static")


def _file_type(path: Path) -> bytes:
    if not shutil.which("file"):
        return b""
    return subprocess.run(["file", str(path)], capture_output=True, check=False).stdout


def b64(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def create(client, task: dict, **extra):
    return client.post(
        "/api/v1/jobs", {"task": {"type": "script", **task}, "schedule": "1s", **extra}, "json"
    )


def run_script(client, task: dict, **extra) -> Job:
    """run_once of a script task."""
    return run_once(client, {"type": "script", **task}, **extra)


def stored_files(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


SHOW = """#!/bin/sh
echo "name=$(basename "$0")"
for a in "$@"; do echo "arg=[$a]"; done
echo "cwd=$(pwd)"
"""


# -- running


def test_a_script_with_a_shebang_runs_with_its_args(coder, broker):
    job = run_script(coder, {"content": b64(SHOW), "filename": "show.sh", "args": ["a b", "", "c"]})
    run = job.runs.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    lines = run.result["stdout"].splitlines()
    assert lines[:4] == ["name=show.sh", "arg=[a b]", "arg=[]", "arg=[c]"]
    cwd = lines[4].removeprefix("cwd=")
    assert os.path.basename(cwd).startswith("sched-script-")
    assert os.path.dirname(cwd) == tempfile.gettempdir()
    assert not os.path.exists(cwd), "the run's directory was not removed"
    assert run.result["exit_code"] == 0
    assert job.status == "succeeded"


def test_a_static_binary_runs(coder, broker, static_binary):
    data = static_binary.read_bytes()
    args = ["x y"] if static_binary.name == "hello" else ["echo", "hello from a static binary"]
    job = run_script(coder, {"content": b64(data), "filename": static_binary.name, "args": args})
    run = job.runs.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.result["stdout"].startswith("hello from a static binary")
    assert job.task["size"] == len(data)


def test_a_script_failing_is_failed_with_its_code(coder, broker):
    run = run_script(coder, {"content": b64("#!/bin/sh\necho bad >&2\nexit 4\n")}).runs.get()
    assert run.status == RunStatus.FAILED
    assert run.result["exit_code"] == 4
    assert run.error == "Exited with code 4: bad"


@pytest.mark.parametrize("content", [b"echo hi\n", b"\x00\x01binary", b"MZ\x90\x00"])
def test_a_script_neither_interpreted_nor_an_elf_binary_is_refused_at_creation(
    coder, broker, media, content
):
    response = create(coder, {"content": b64(content), "filename": "plain.sh"})
    assert response.status_code == 400
    assert "#!" in response.json()["task"]["content"][0]
    assert not Job.objects.exists()
    assert stored_files(media) == []


def test_an_elf_binary_is_accepted(coder, broker, media):
    with open("/bin/true", "rb") as binary:
        assert create(coder, {"content": b64(binary.read())}).status_code == 201


def test_env_cwd_and_no_leak(coder, broker, run_dir, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "worker-secret")
    script = '#!/bin/sh\necho "$GREETING"\npwd\nenv | grep -c SECRET_KEY || true\n'
    run = run_script(
        coder, {"content": b64(script), "env": {"GREETING": "hi"}, "cwd": str(run_dir)}
    ).runs.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.result["stdout"] == f"hi\n{run_dir}\n0\n"


def test_a_timeout_kills_the_script_and_its_children_and_cleans_up(coder, broker, run_dir):
    pidfile = run_dir / "child.pid"
    script = f"#!/bin/sh\npwd\nsleep 30 &\necho $! > {pidfile}\nwait\n"
    started = time.monotonic()
    run = run_script(coder, {"content": b64(script), "timeout": "0.4s"}).runs.get()
    assert run.status == RunStatus.TIMED_OUT
    assert time.monotonic() - started < 4
    assert not os.path.exists(run.result["stdout"].strip())
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 2
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(child)


def test_a_script_runs_as_the_code_user_and_may_write_its_directory(coder, broker):
    script = "#!/bin/sh\nid -u\ntouch made-here && echo wrote\nstat -c '%u' .\n"
    run = run_script(coder, {"content": b64(script)}).runs.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    uid = str(code_user().pw_uid)
    assert run.result["stdout"] == f"{uid}\nwrote\n{uid}\n"


def test_the_run_directory_is_private(coder, broker):
    script = "#!/bin/sh\nstat -c '%a' . \"$0\"\n"
    run = run_script(coder, {"content": b64(script)}).runs.get()
    assert run.result["stdout"].split() == ["700", "700"]


# -- storage


def test_the_content_is_stored_and_the_job_keeps_only_a_reference(coder, broker, media):
    data = SHOW.encode()
    response = create(coder, {"content": b64(data), "filename": "show.sh", "args": ["1"]})
    assert response.status_code == 201, response.data
    task = response.json()["task"]
    assert "content" not in task
    assert task["size"] == len(data)
    assert task["sha256"] == hashlib.sha256(data).hexdigest()
    assert task["content_path"].startswith("scripts/")
    assert task["content_path"].endswith("/show.sh")
    job = Job.objects.get(id=response.json()["id"])
    assert "content" not in job.task
    assert job.task == task
    assert "content" not in coder.get(f"/api/v1/jobs/{job.id}").json()["task"]
    with default_storage.open(task["content_path"], "rb") as stored:
        assert stored.read() == data
    assert stored_files(media) == [media / task["content_path"]]


def test_a_changed_task_stores_the_new_content(coder, broker):
    response = create(coder, {"content": b64("#!/bin/sh\necho one\n")}, schedule="in 1h")
    job_id = response.json()["id"]
    first = response.json()["task"]["content_path"]
    response = coder.patch(
        f"/api/v1/jobs/{job_id}",
        {"task": {"type": "script", "content": b64("#!/bin/sh\necho two\n")}},
        "json",
    )
    assert response.status_code == 200, response.data
    task = response.json()["task"]
    assert task["content_path"] != first
    with default_storage.open(task["content_path"], "rb") as stored:
        assert stored.read() == b"#!/bin/sh\necho two\n"


def test_a_tampered_stored_script_is_not_run(coder, broker, media, run_dir):
    marker = run_dir / "ran"
    response = create(coder, {"content": b64("#!/bin/sh\necho fine\n")})
    job = Job.objects.get(id=response.json()["id"])
    (media / job.task["content_path"]).write_text(f"#!/bin/sh\ntouch {marker}\n")
    dispatch.plan_due_fires()
    runner.execute(str(job.runs.get().id))
    run = job.runs.get()
    assert run.status == RunStatus.FAILED
    assert "does not match its checksum" in run.error
    assert not marker.exists()


def test_a_missing_stored_script_fails_clearly(coder, broker, media):
    response = create(coder, {"content": b64("#!/bin/sh\necho fine\n")})
    job = Job.objects.get(id=response.json()["id"])
    (media / job.task["content_path"]).unlink()
    dispatch.plan_due_fires()
    runner.execute(str(job.runs.get().id))
    run = job.runs.get()
    assert run.status == RunStatus.FAILED
    assert run.error.startswith(f"Cannot fetch the script '{job.task['content_path']}'")


# -- bad input: 400 naming the field, nothing created, nothing stored


@pytest.mark.parametrize(
    "task, field",
    [
        ({}, "content"),
        ({"content": "not base64!"}, "content"),
        ({"content": "aGVsbG8"}, "content"),  # padding missing
        ({"content": "aGVs\nbG8="}, "content"),  # line break
        ({"content": "-_-_"}, "content"),  # URL-safe alphabet
        ({"content": ""}, "content"),
        ({"content": 42}, "content"),
        ({"content": b64("x"), "filename": "../evil"}, "filename"),
        ({"content": b64("x"), "filename": "a/b"}, "filename"),
        ({"content": b64("x"), "filename": "a..b"}, "filename"),
        ({"content": b64("x"), "filename": ".hidden"}, "filename"),
        ({"content": b64("x"), "filename": "-rf"}, "filename"),
        ({"content": b64("x"), "filename": ""}, "filename"),
        ({"content": b64("x"), "filename": "a" * 101}, "filename"),
        ({"content": b64("x"), "filename": "a b"}, "filename"),
        ({"content": b64("x"), "args": "one"}, "args"),
        ({"content": b64("x"), "args": ["ok", 1]}, "args"),
        ({"content": b64("x"), "args": ["a\x00b"]}, "args"),
        ({"content": b64("x"), "env": {"BAD NAME": "x"}}, "env"),
        ({"content": b64("x"), "cwd": "tmp"}, "cwd"),
        ({"content": b64("x"), "command": "ls"}, "command"),
    ],
)
def test_bad_tasks_are_refused_naming_the_field(coder, broker, media, task, field):
    response = create(coder, task)
    assert response.status_code == 400, response.data
    assert field in response.json()["task"], response.json()
    assert not Job.objects.exists()
    assert stored_files(media) == []


def test_a_script_over_the_size_limit_is_refused(coder, broker, media, settings):
    settings.SCHED = {**settings.SCHED, "SCRIPT_MAX_BYTES": 100}
    assert create(coder, {"content": b64("#!" + "x" * 98)}).status_code == 201
    response = create(coder, {"content": b64("#!" + "x" * 99)})
    assert response.status_code == 400
    assert response.json()["task"]["content"] == [
        "The script is 101 bytes; the limit is 100 bytes."
    ]
    response = create(coder, {"content": b64("x" * 1000)})
    assert response.status_code == 400
    assert "content" in response.json()["task"]
    assert Job.objects.count() == 1
    assert len(stored_files(media)) == 1


def test_a_user_without_the_permission_gets_403_and_nothing_is_stored(api, broker, media):
    response = create(api, {"content": b64("#!/bin/sh\necho hi\n")})
    assert response.status_code == 403
    assert "jobs.run_code" in response.json()["detail"]
    assert not Job.objects.exists()
    assert stored_files(media) == []


def test_run_as_needs_a_superuser(coder, broker, media):
    response = create(coder, {"content": b64("#!/bin/sh\nid\n"), "run_as": "nobody"})
    assert response.status_code == 403
    assert "run_as" in response.json()["detail"]
    assert not Job.objects.exists()
    assert stored_files(media) == []


def test_run_as_switches_user(root, broker):
    if os.geteuid() != 0:
        pytest.skip("the test process is not root: it cannot switch users")
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody' on this host")
    script = "#!/bin/sh\nid -un\ntouch made-here && echo wrote\n"
    run = run_script(root, {"content": b64(script), "run_as": "nobody"}).runs.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.result["stdout"] == "nobody\nwrote\n"


def test_run_as_a_missing_user_fails(root, broker):
    run = run_script(root, {"content": b64("#!/bin/sh\nid\n"), "run_as": "no-such-user-xyz"})
    assert run.runs.get().status == RunStatus.FAILED
    assert "no user 'no-such-user-xyz'" in run.runs.get().error


@pytest.mark.django_db(transaction=True)  # catalog tasks run in a thread of their own
def test_prune_scripts_deletes_stored_scripts_no_job_refers_to(coder, root, broker, media):
    response = create(coder, {"content": b64("#!/bin/sh\necho one\n")}, schedule="in 1h")
    job_id = response.json()["id"]
    first = response.json()["task"]["content_path"]
    second = coder.patch(
        f"/api/v1/jobs/{job_id}",
        {"task": {"type": "script", "content": b64("#!/bin/sh\necho two\n")}},
        "json",
    ).json()["task"]["content_path"]
    run = run_prune_scripts(root)
    assert run.status == "succeeded", run.error
    assert run.result == {"deleted": 1, "kept": 1}
    assert not default_storage.exists(first)  # replaced by the PATCH
    assert default_storage.exists(second)  # still the job's script
