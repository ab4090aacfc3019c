"""Script tasks on S3-compatible storage, configured as docs/operations.md says.

Real S3 cannot be reached from the test machines (no internet), so the bucket lives on
moto's S3 emulator (`moto[server]`), a real HTTP server on a free loopback port started
in this process: django-storages and boto3 talk to it over HTTP exactly as to S3. The
storage is chosen by settings only (`STORAGES` default `S3Storage`, `AWS_STORAGE_BUCKET_NAME`,
`AWS_S3_ENDPOINT_URL`, credentials in `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`);
`MEDIA_ROOT` points at an empty folder that must stay empty.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from jobs import dispatch, runner
from jobs.models import Job, Run, RunStatus

from .helpers import run_prune_scripts

pytestmark = [pytest.mark.django_db]

REGION = "us-east-1"
SCRIPT = b'#!/bin/sh\necho "fetched $(basename "$0") args=$*"\n'


@dataclass
class Bucket:
    client: object  # a boto3 S3 client
    name: str
    media: Path  # MEDIA_ROOT: where the default FileSystemStorage would have written

    def keys(self) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.name)
        return sorted(entry["Key"] for entry in listing.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def local_files(self) -> list[Path]:
        return [p for p in self.media.rglob("*") if p.is_file()] if self.media.exists() else []


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, settings, monkeypatch, tmp_path) -> Bucket:
    """A new bucket as the default storage (the settings fixture resets the cached one)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION)
    name = f"sched-scripts-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.AWS_STORAGE_BUCKET_NAME = name
    settings.AWS_S3_ENDPOINT_URL = s3_endpoint
    settings.AWS_S3_REGION_NAME = REGION
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage"},
    }
    return Bucket(client, name, tmp_path / "media")


def create(client, content: bytes, schedule: str = "1s", **task) -> Job:
    body = {"type": "script", "content": base64.b64encode(content).decode(), **task}
    response = client.post("/api/v1/jobs", {"task": body, "schedule": schedule}, "json")
    assert response.status_code == 201, response.data
    return Job.objects.get(id=response.json()["id"])


def run_it(job: Job) -> Run:
    dispatch.plan_due_fires()
    runner.execute(str(job.runs.get().id))
    return job.runs.get()


def test_an_uploaded_script_is_stored_in_the_bucket_and_not_on_local_disk(coder, broker, bucket):
    job = create(coder, SCRIPT, filename="show.sh")
    path = job.task["content_path"]
    assert path.startswith("scripts/") and path.endswith("/show.sh")
    assert bucket.keys() == [path]
    assert bucket.read(path) == SCRIPT
    assert job.task["sha256"] == hashlib.sha256(SCRIPT).hexdigest()
    assert bucket.local_files() == []


def test_the_worker_fetches_the_script_from_the_bucket_and_runs_it(coder, broker, bucket):
    job = create(coder, SCRIPT, filename="show.sh", args=["a", "b"])
    run = run_it(job)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.result["stdout"] == "fetched show.sh args=a b\n"
    assert run.result["exit_code"] == 0
    assert bucket.keys() == [job.task["content_path"]]  # fetched, not moved
    assert bucket.local_files() == []


def test_a_script_changed_in_the_bucket_is_not_run(coder, broker, bucket, tmp_path):
    marker = tmp_path / "ran"
    job = create(coder, SCRIPT)
    bucket.client.put_object(
        Bucket=bucket.name, Key=job.task["content_path"], Body=f"#!/bin/sh\ntouch {marker}\n"
    )
    run = run_it(job)
    assert run.status == RunStatus.FAILED
    assert "does not match its checksum" in run.error
    assert not marker.exists()


def test_a_script_missing_from_the_bucket_fails_clearly(coder, broker, bucket):
    job = create(coder, SCRIPT)
    bucket.client.delete_object(Bucket=bucket.name, Key=job.task["content_path"])
    run = run_it(job)
    assert run.status == RunStatus.FAILED
    assert run.error.startswith(f"Cannot fetch the script '{job.task['content_path']}'")


@pytest.mark.django_db(transaction=True)  # catalog tasks run in a thread of their own
def test_prune_scripts_deletes_objects_no_job_refers_to(coder, root, broker, bucket):
    job = create(coder, b"#!/bin/sh\necho one\n", schedule="in 1h")
    first = job.task["content_path"]
    response = coder.patch(
        f"/api/v1/jobs/{job.id}",
        {"task": {"type": "script", "content": base64.b64encode(b"#!/bin/sh\n").decode()}},
        "json",
    )
    assert response.status_code == 200, response.data
    second = response.json()["task"]["content_path"]
    assert bucket.keys() == sorted([first, second])
    run = run_prune_scripts(root)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.result == {"deleted": 1, "kept": 1}
    assert bucket.keys() == [second]
