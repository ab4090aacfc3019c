"""The README's first job, as written, runs here without internet: it succeeds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from jobs.models import RunStatus

from .helpers import end_other_sessions, run_job

pytestmark = pytest.mark.django_db(transaction=True)

README = Path(__file__).resolve().parents[2] / "README.md"
ADDRESS = "http://127.0.0.1:8000"  # make run's WEB_BIND


def readme_job() -> dict:
    """The body of the README's `curl ... -d '...' .../api/v1/jobs`."""
    found = re.search(r"-d '(\{.*?\})' \\\n\s+" + re.escape(ADDRESS), README.read_text(), re.S)
    assert found, "the README has no curl example creating a job"
    return json.loads(found.group(1))


def test_the_readme_job_reaches_only_this_machine():
    body = readme_job()
    assert body["task"]["uri"].startswith(f"{ADDRESS}/")
    assert body["schedule"] == "now"


@pytest.fixture
def web(live_server):
    """A live web server on loopback (its sessions ended after the test)."""
    yield live_server
    end_other_sessions()


def test_the_readme_job_succeeds_as_the_admin_that_make_run_creates(root, web):
    body = readme_job()
    body["task"]["uri"] = body["task"]["uri"].replace(ADDRESS, web.url)
    job = run_job(root, body)  # `root` is a superuser, as make run's admin
    run = job.runs.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.result["status_code"] == 200
