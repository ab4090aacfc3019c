"""End-to-end: docker tasks through the API, run by the real worker on Podman's Docker API."""

from __future__ import annotations

import docker
import pytest

pytestmark = [pytest.mark.e2e]

IMAGE = "localhost/sched-test-busybox:latest"


@pytest.fixture(scope="module")
def engine(e2e_stack):
    """A client to the engine the stack's worker uses; skips when Podman cannot run here."""
    if not e2e_stack.docker_host:
        pytest.skip(e2e_stack.docker_unavailable)
    client = docker.DockerClient(base_url=e2e_stack.docker_host)
    yield client
    client.close()


def _docker(command, **extra) -> dict:
    return {"type": "docker", "image": IMAGE, "command": command, **extra}


def _assert_removed(engine, run_id: str) -> None:
    left = engine.containers.list(all=True, filters={"label": f"sched.run={run_id}"})
    assert left == [], f"containers of run {run_id} left: {left}"


def test_a_container_job_records_its_output(carol, engine):
    job = carol.create_job(
        {
            "task": _docker(
                ["sh", "-c", 'echo "hello $WHO"; echo "a warning" >&2'], env={"WHO": "e2e"}
            ),
            "schedule": "now",
        }
    )
    job = carol.wait_job(job["id"], "succeeded", timeout=20)
    (run,) = carol.runs(job["id"])
    detail = carol.run(run["id"])
    assert detail["status"] == "succeeded", detail
    assert detail["result"]["exit_code"] == 0
    assert detail["result"]["stdout"] == "hello e2e\n"
    assert detail["result"]["stderr"] == "a warning\n"
    assert detail["result"]["image"] == IMAGE
    _assert_removed(engine, run["id"])


def test_a_container_exiting_non_zero_fails(carol, engine):
    job = carol.create_job({"task": _docker("sh -c 'exit 4'"), "schedule": "now"})
    job = carol.wait_job(job["id"], "failed", timeout=20)
    (run,) = carol.runs(job["id"])
    detail = carol.run(run["id"])
    assert detail["status"] == "failed"
    assert detail["result"]["exit_code"] == 4
    assert "code 4" in detail["error"]
    _assert_removed(engine, run["id"])


def test_a_container_running_too_long_is_killed(carol, engine):
    job = carol.create_job({"task": _docker("sleep 60", timeout="1s"), "schedule": "now"})
    job = carol.wait_job(job["id"], "failed", timeout=20)
    (run,) = carol.runs(job["id"])
    detail = carol.run(run["id"])
    assert detail["status"] == "timed_out", detail
    assert "1s" in detail["error"]
    _assert_removed(engine, run["id"])


def test_only_users_allowed_to_run_code_create_docker_jobs(alice, carol):
    before = alice.ok(alice.get("jobs"))["count"]
    response = alice.post("jobs", {"task": _docker("true"), "schedule": "now"})
    assert response.status_code == 403, response.text
    assert "jobs.run_code" in response.text
    assert alice.ok(alice.get("jobs"))["count"] == before
