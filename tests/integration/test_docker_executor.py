"""Docker tasks: real containers on Podman's Docker API, through the API and the worker's code.

A session fixture runs scripts/podman-setup.sh (installs Podman if missing and allowed,
imports a static busybox image, starts `podman system service`). The tests that need
containers are skipped, with the reason, only when Podman cannot be installed or started.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import docker
import pytest
from django.utils import timezone

from executors import docker_engine, docker_janitor
from executors.registry import get_executor
from jobs.models import Job, Run, RunStatus
from tests.contexts import run_context
from tests.podman import docker_host as podman_docker_host

from .helpers import run_once

pytestmark = [pytest.mark.django_db]

IMAGE = "localhost/sched-test-busybox:latest"


@pytest.fixture(scope="session")
def podman():
    """The Podman service's DOCKER_HOST; skips the test if Podman cannot run here."""
    host, why = podman_docker_host()
    if host is None:
        pytest.skip(why)
    return host


@pytest.fixture(scope="session")
def podman_client(podman):
    client = docker.DockerClient(base_url=podman)
    yield client
    client.close()


@pytest.fixture
def engine(podman, podman_client, settings):
    """The product's settings point at Podman; yields a client for checking containers."""
    settings.SCHED = {**settings.SCHED, "DOCKER_HOST": podman}
    yield podman_client
    docker_engine.close_clients()


def run_container(client, task: dict, **extra) -> Job:
    """run_once of a docker task of IMAGE."""
    return run_once(client, {"type": "docker", "image": IMAGE, **task}, **extra)


def containers_of(client: docker.DockerClient, run_id) -> list:
    return client.containers.list(all=True, filters={"label": f"sched.run={run_id}"})


def the_run(engine, client, task: dict, **extra):
    """Run the task once; check its container is gone; return the run."""
    run = run_container(client, task, **extra).runs.get()
    assert containers_of(engine, run.id) == [], "the run's container was not removed"
    return run


# ---------------------------------------------------------------- running containers


def test_stdout_and_stderr_are_captured_separately(engine, coder, broker):
    job = run_container(coder, {"command": "sh -c 'echo to out; echo to err >&2'"})
    run = job.runs.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert job.status == "succeeded"
    assert run.result["exit_code"] == 0
    assert run.result["stdout"] == "to out\n"
    assert run.result["stderr"] == "to err\n"
    assert run.result["stdout_truncated"] is False
    assert run.result["stderr_truncated"] is False
    assert run.result["image"] == IMAGE
    assert 0 < run.result["elapsed_ms"] < 10_000
    assert containers_of(engine, run.id) == []


def test_a_non_zero_exit_fails_with_its_code(engine, coder, broker):
    run = the_run(engine, coder, {"command": ["sh", "-c", "echo it broke >&2; exit 3"]})
    assert run.status == RunStatus.FAILED
    assert run.result["exit_code"] == 3
    assert "exited with code 3" in run.error
    assert "it broke" in run.error


def test_a_container_that_runs_too_long_is_killed(engine, coder, broker):
    started = time.monotonic()
    run = the_run(engine, coder, {"command": "sh -c 'echo started; sleep 30'", "timeout": "1s"})
    assert run.status == RunStatus.TIMED_OUT
    assert "1s" in run.error
    assert run.result["stdout"] == "started\n"  # output up to the kill is kept
    assert time.monotonic() - started < 10


def test_the_jobs_timeout_applies_when_the_task_has_none(engine, coder, broker):
    run = the_run(engine, coder, {"command": "sleep 30"}, timeout="1s")
    assert run.status == RunStatus.TIMED_OUT


def test_env_reaches_the_container_with_the_run_ids(engine, coder, broker):
    run = the_run(
        engine,
        coder,
        {
            "command": ["sh", "-c", 'echo "$GREETING|$EMPTY|$SCHED_RUN_ID|$SCHED_ATTEMPT"'],
            "env": {"GREETING": "hello, world", "EMPTY": ""},
        },
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.result["stdout"] == f"hello, world||{run.id}|1\n"


def test_the_workers_environment_does_not_reach_the_container(engine, coder, broker, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "worker-secret-marker")
    monkeypatch.setenv("DATABASE_URL", "postgres://sched:worker-secret-marker@db/sched")
    run = the_run(engine, coder, {"command": ["sh", "-c", "env; cat /proc/1/environ"]})
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert "SCHED_RUN_ID=" in run.result["stdout"]
    assert "worker-secret-marker" not in run.result["stdout"] + run.result["stderr"]


def test_no_network_by_default_and_the_limits_apply(engine, coder, broker):
    script = (
        "ip -o link | cut -d: -f2; "
        "cat /sys/fs/cgroup/memory.max 2>/dev/null "
        "|| cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
        "cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us"
    )
    run = the_run(engine, coder, {"command": ["sh", "-c", script], "memory": "64m", "cpus": 0.5})
    assert run.status == RunStatus.SUCCEEDED, run.error
    lines = run.result["stdout"].split()
    assert "lo" in lines
    assert not [line for line in lines if line.startswith("eth")], lines
    assert str(64 * 1024 * 1024) in lines
    assert "50000" in lines  # a quota of half the default 100000 us period


def test_a_missing_image_with_pull_never_is_a_clear_failure(engine, coder, broker):
    image = "localhost/sched-no-such-image:1"
    run = the_run(engine, coder, {"image": image, "pull": "never"})
    assert run.status == RunStatus.FAILED
    assert image in run.error
    assert "'never'" in run.error


def test_an_image_that_cannot_be_pulled_is_a_clear_failure(engine, coder, broker):
    image = "registry.invalid/sched/nothing:1"
    run = the_run(engine, coder, {"image": image})  # pull: missing
    assert run.status == RunStatus.FAILED
    assert image in run.error
    assert "pulling it failed" in run.error


def test_a_program_missing_from_the_image_is_a_clear_failure(engine, coder, broker):
    run = the_run(engine, coder, {"command": "no-such-program --now"})
    assert run.status == RunStatus.FAILED
    assert "no-such-program" in run.error


def test_only_a_bounded_piece_of_the_output_is_kept(engine, coder, broker, settings):
    settings.SCHED = {**settings.SCHED, "OUTPUT_LIMIT": 1000}
    run = the_run(engine, coder, {"command": ["sh", "-c", "yes | head -c 5000; echo small >&2"]})
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.result["stdout"] == "y\n" * 500
    assert run.result["stdout_truncated"] is True
    assert run.result["stderr"] == "small\n"
    assert run.result["stderr_truncated"] is False


def test_the_stop_event_kills_the_container(engine):
    """concurrency=replace will set the run's stop event: the container is killed."""
    context = run_context(
        {"type": "docker", "image": IMAGE, "command": "sleep 30", "pull": "missing"}
    )
    timer = threading.Timer(0.5, context.stop.set)
    timer.start()
    started = time.monotonic()
    try:
        outcome = get_executor("docker").run(context)
    finally:
        timer.cancel()
    assert outcome.status == RunStatus.CANCELED
    assert time.monotonic() - started < 5
    assert containers_of(engine, context.run_id) == []


def test_an_unreachable_engine_is_a_clear_failure(coder, broker, settings, tmp_path):
    host = f"unix://{tmp_path}/nothing-listens.sock"
    settings.SCHED = {**settings.SCHED, "DOCKER_HOST": host}
    job = run_container(coder, {"command": "true"})
    run = job.runs.get()
    assert run.status == RunStatus.FAILED
    assert f"DOCKER_HOST={host}" in run.error
    assert run.result["image"] == IMAGE


# ---------------------------------------------------------------- the API


def test_the_job_shows_the_normalized_task(coder):
    response = coder.post(
        "/api/v1/jobs",
        {
            "task": {"type": "docker", "image": "busybox:1.36", "command": "echo hi"},
            "schedule": "in 1h",
        },
        format="json",
    )
    assert response.status_code == 201, response.data
    task = coder.get(response["Location"]).json()["task"]
    assert task == {
        "type": "docker",
        "image": "busybox:1.36",
        "command": "echo hi",
        "env": {},
        "pull": "missing",
        "network": "none",
    }
    response = coder.post(
        "/api/v1/jobs",
        {
            "task": {
                "type": "docker",
                "image": "registry.internal:5000/team/tool@sha256:" + "a" * 64,
                "command": ["run", "--fast"],
                "pull": "always",
                "network": "bridge",
                "memory": "1.5g",
                "cpus": "2",
                "timeout": "90s",
            },
            "schedule": "in 1h",
        },
        format="json",
    )
    assert response.status_code == 201, response.data
    task = response.json()["task"]
    assert task["memory"] == 1536 * 1024 * 1024
    assert task["cpus"] == 2.0
    assert task["timeout"] == 90
    assert task["command"] == ["run", "--fast"]


@pytest.mark.parametrize(
    "task, field, words",
    [
        ({}, "image", "required"),
        ({"image": ""}, "image", "blank"),
        ({"image": "Busybox"}, "image", "lower-case"),
        ({"image": "busy box"}, "image", "image reference"),
        ({"image": "busybox", "pull": "sometimes"}, "pull", "sometimes"),
        ({"image": "busybox", "memory": "lots"}, "memory", "not a size"),
        ({"image": "busybox", "memory": "1k"}, "memory", "at least"),
        ({"image": "busybox", "memory": -5}, "memory", "at least"),
        ({"image": "busybox", "cpus": 0}, "cpus", "0.01"),
        ({"image": "busybox", "cpus": -1}, "cpus", "0.01"),
        ({"image": "busybox", "cpus": "many"}, "cpus", "not a number"),
        ({"image": "busybox", "cpus": True}, "cpus", "positive number"),
        ({"image": "busybox", "network": "container:abc"}, "network", "not a network"),
        ({"image": "busybox", "command": "echo 'unclosed"}, "command", "cannot split"),
        ({"image": "busybox", "command": []}, "command", "empty"),
        ({"image": "busybox", "command": ["echo", 1]}, "command", "argument 1"),
        ({"image": "busybox", "env": {"1BAD": "x"}}, "env", "variable name"),
        ({"image": "busybox", "env": ["A=1"]}, "env", "dictionary"),
        ({"image": "busybox", "timeout": "soon"}, "timeout", ""),
        ({"image": "busybox", "volumes": ["/:/host"]}, "volumes", "unknown field"),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(coder, task, field, words):
    body = {"task": {"type": "docker", **task}, "schedule": "now"}
    response = coder.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 400, response.data
    errors = response.json()["task"]
    assert list(errors) == [field], errors
    assert words in str(errors[field]).lower()
    assert Job.objects.count() == 0


def test_a_user_without_the_permission_gets_403(api, broker):
    response = api.post(
        "/api/v1/jobs",
        {"task": {"type": "docker", "image": IMAGE, "command": "true"}, "schedule": "now"},
        format="json",
    )
    assert response.status_code == 403, response.data
    assert "jobs.run_code" in str(response.json())
    assert Job.objects.count() == 0


# ---------------------------------------------------------------- containers left behind


def test_the_janitor_removes_what_a_dead_worker_left_and_nothing_else(engine, coder, broker):
    response = coder.post(
        "/api/v1/jobs",
        {"task": {"type": "docker", "image": IMAGE}, "schedule": "in 1h"},
        format="json",
    )
    assert response.status_code == 201, response.data
    job = Job.objects.get(id=response.json()["id"])

    def run_with_container(status: str):
        run = Run.objects.create(
            job=job,
            job_revision=job.revision,
            due_at=timezone.now() - timedelta(minutes=len(status)),
            idempotency_key=uuid.uuid4(),
            status=status,
        )
        return run.id, start_container(run.id)

    def start_container(run_id):
        return engine.containers.run(
            IMAGE,
            "sleep 300",
            detach=True,
            name=f"sched-{run_id}",
            labels={"sched.run": str(run_id)},
        )

    lost, _ = run_with_container(RunStatus.LOST)  # its worker was killed
    live, live_container = run_with_container(RunStatus.RUNNING)  # another worker's
    foreign = uuid.uuid4()  # a run of another installation sharing the engine
    foreign_container = start_container(foreign)
    try:
        assert docker_janitor.sweep() == 1
        assert containers_of(engine, lost) == []
        assert [c.id for c in containers_of(engine, live)] == [live_container.id]
        assert [c.id for c in containers_of(engine, foreign)] == [foreign_container.id]
        assert docker_janitor.sweep() == 0
    finally:
        for container in containers_of(engine, live) + containers_of(engine, foreign):
            container.remove(force=True)
