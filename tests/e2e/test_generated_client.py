"""A client generated from the live OpenAPI document creates, reads and cancels jobs.

openapi-python-client (a well-kept generator, pinned in requirements-dev.txt) turns the
document the running web process serves into a Python package, here, at test time; the
test imports it and works through it alone: typed task and schedule models in, typed
job, run and error models out. A document a generator cannot use fails here.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid

import pytest

from . import harness

pytestmark = [pytest.mark.e2e]

PACKAGE = "sched_client"
TARGET = "http://127.0.0.1:9/generated-client"  # a closed port: nothing fires within the test


@pytest.fixture(scope="module")
def generated(e2e_stack, tmp_path_factory):
    """The package generated from the stack's /api/v1/schema, imported."""
    where = tmp_path_factory.mktemp("generated")
    config = where / "config.yaml"
    # No formatter run on the output (the generator's default hook): the code is only imported.
    config.write_text(f"post_hooks: []\npackage_name_override: {PACKAGE}\n")
    done = subprocess.run(
        [
            str(harness.VENV_BIN / "openapi-python-client"),
            "generate",
            "--url",
            f"{e2e_stack.base_url}/api/v1/schema",
            "--meta",
            "none",
            "--output-path",
            str(where / PACKAGE),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Warning" not in output, output  # every part of the document was understood
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))
        for name in [name for name in sys.modules if name.partition(".")[0] == PACKAGE]:
            del sys.modules[name]


def client_of(generated, stack, user: str):
    return generated.AuthenticatedClient(
        base_url=stack.base_url, token=stack.tokens[user], prefix="Token"
    )


def test_a_generated_client_creates_reads_and_cancels_a_job(generated, e2e_stack):
    models = importlib.import_module(f"{PACKAGE}.models")
    jobs = importlib.import_module(f"{PACKAGE}.api.jobs")
    for name in ("create", "retrieve", "upcoming", "cancel", "list", "pause"):
        importlib.import_module(f"{PACKAGE}.api.jobs.jobs_{name}")
    name = f"generated-{uuid.uuid4().hex[:8]}"
    with client_of(generated, e2e_stack, "alice") as client:
        body = models.JobInput(
            name=name,
            task=models.HttpTask(
                type_=models.HttpTaskTypeEnum.HTTP,
                method=models.HttpMethodEnum.POST,
                uri=TARGET,
                body={"from": "the generated client"},
                expected_range="200-299",
                timeout="10s",
            ),
            schedule=models.ScheduleEvery(every="1h"),
            timezone="Europe/Paris",
            retry=models.Retry(max_attempts=3, backoff=models.RetryBackoffEnum.FIXED),
        )
        created = jobs.jobs_create.sync_detailed(client=client, body=body)
        assert created.status_code == 201, created.content
        job = created.parsed
        assert isinstance(job, models.Job)
        assert created.headers["Location"] == f"{e2e_stack.base_url}/api/v1/jobs/{job.id}"

        read = jobs.jobs_retrieve.sync(job.id, client=client)
        assert isinstance(read, models.Job)
        assert (read.id, read.name, read.status) == (job.id, name, models.JobStatusEnum.SCHEDULED)
        assert isinstance(read.task, models.HttpTask)
        assert (read.task.method, read.task.uri, read.task.timeout) == ("POST", TARGET, 10)
        assert isinstance(read.schedule, models.IntervalSchedule)
        assert read.schedule.every == "1h"
        assert isinstance(read.retry, models.RetryPolicy)
        assert (read.retry.max_attempts, read.retry.backoff) == (3, "fixed")
        assert read.timeout is None and read.last_run is None
        upcoming = jobs.jobs_upcoming.sync(job.id, client=client, count=2)
        assert isinstance(upcoming, models.Upcoming) and len(upcoming.upcoming) == 2

        canceled = jobs.jobs_cancel.sync(job.id, client=client)
        assert isinstance(canceled, models.Job)
        assert canceled.status == models.JobStatusEnum.CANCELED
        listed = jobs.jobs_list.sync(
            client=client, name=name, status=[models.JobsListStatusItem.CANCELED]
        )
        assert [item.id for item in listed.results] == [job.id]
        again = jobs.jobs_pause.sync_detailed(job.id, client=client)
        assert again.status_code == 409 and isinstance(again.parsed, models.Error)


def test_a_generated_client_reads_the_errors_as_typed_models(generated, e2e_stack):
    models = importlib.import_module(f"{PACKAGE}.models")
    jobs = importlib.import_module(f"{PACKAGE}.api.jobs")
    for name in ("jobs_create", "jobs_retrieve"):
        importlib.import_module(f"{PACKAGE}.api.jobs.{name}")
    with client_of(generated, e2e_stack, "alice") as client:
        refused = jobs.jobs_create.sync_detailed(
            client=client,
            body=models.JobInput(
                task=models.CatalogTask(type_=models.CatalogTaskTypeEnum.CATALOG, name="no.such"),
                schedule="in 2m",
            ),
        )
        assert refused.status_code == 400
        assert isinstance(refused.parsed, models.ValidationError)
        assert "No catalog task named 'no.such'" in str(refused.parsed.additional_properties)
        unknown = jobs.jobs_retrieve.sync_detailed(uuid.uuid4(), client=client)
        assert unknown.status_code == 404
        assert isinstance(unknown.parsed, models.Error) and unknown.parsed.detail
