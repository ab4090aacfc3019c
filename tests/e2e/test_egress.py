"""The egress policy in the real processes: the web process refuses a denied address at
creation, the worker refuses it at connection for an ordinary owner, a superuser's run
reaches it. The stack opens 127.0.0.0/8 and ::1 (its target's loopback) with EGRESS_ALLOW,
so these tests use 0.0.0.0, which reaches the same target and stays denied."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from . import harness

pytestmark = [pytest.mark.e2e]


def unspecified_url(target, path: str) -> str:
    """The target's URL through 0.0.0.0: on Linux a connection to it reaches this host."""
    return f"http://0.0.0.0:{urlsplit(target.url(path)).port}{path}"


def test_the_web_process_refuses_a_denied_address_to_an_ordinary_user(alice, target):
    body = {"task": {"uri": unspecified_url(target, "/x")}, "schedule": "in 1h"}
    response = alice.post("jobs", body)
    assert response.status_code == 400, response.text
    [message] = response.json()["task"]["uri"]
    assert "Egress policy: 0.0.0.0 is unspecified (0.0.0.0/8)" in message


def test_a_superusers_run_reaches_what_an_ordinary_owners_run_may_not(
    e2e_stack, alice, dave, target
):
    allowed, refused = target.path("ok"), target.path("ok")
    dave.create_job({"task": {"uri": unspecified_url(target, allowed)}, "schedule": "now"})
    target.wait_for(allowed, 1, timeout=10)
    target.expect_exactly(allowed, 1)

    # A job made while its owner could reach anything, the owner's permission gone since:
    # made by dave, then given to alice.
    job = dave.create_job({"task": {"uri": unspecified_url(target, refused)}, "schedule": "in 1h"})
    script = (
        "from django.contrib.auth import get_user_model\n"
        "from jobs.models import Job\n"
        f"Job.objects.filter(id='{job['id']}').update(\n"
        "    owner=get_user_model().objects.get(username='alice'))\n"
    )
    done = harness.manage(e2e_stack.env, "shell", "-c", script, timeout=60)
    assert done.returncode == 0, done.stderr
    alice.ok(alice.post(f"jobs/{job['id']}/run"), 202)
    [run] = alice.wait_runs(
        job["id"], lambda runs: any(r["status"] == "failed" for r in runs), what="a failed run"
    )
    assert "egress policy: 0.0.0.0 is unspecified (0.0.0.0/8)" in run["error"]
    assert "which this job's owner may not reach" in run["error"]
    time.sleep(0.5)
    target.expect_exactly(refused, 0)
