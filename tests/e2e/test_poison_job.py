"""End-to-end: a job whose next fire cannot be computed never stops anyone else's fires."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from .harness import record_lag

pytestmark = [pytest.mark.e2e]


def test_a_planted_poison_job_is_ended_and_the_others_fire_on_time(e2e_stack, alice, bob, target):
    poison = alice.create_job(
        {"task": {"type": "catalog", "name": "sched.echo"}, "schedule": {"every": "1h"}}
    )
    # The row as an older version accepted it: an interval that overflows every planning.
    e2e_stack.shell(
        "from django.utils import timezone\n"
        "from jobs.models import Job\n"
        f"Job.objects.filter(id='{poison['id']}').update(\n"
        "    schedule={'kind': 'interval', 'every': '999999999d'},\n"
        "    anchor_at=timezone.now(), next_run_at=timezone.now())\n",
        log="plant-poison",
    )
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    paths = [target.path("ok") for _ in range(5)]
    for path in paths:
        bob.create_job(
            {
                "task": {"method": "POST", "uri": target.url(path), "body": {}},
                "schedule": {"every": "1h"},
                "start_at": due.isoformat(),
            }
        )

    for path in paths:
        (received,) = target.wait_for(path, timeout=10)
        lag = received.received_at - due.timestamp()
        record_lag("with a poison job planted", lag)
        assert lag < 1.0, f"fired {lag:.3f} s late"

    ended = alice.wait_job(poison["id"], "failed")
    assert ended["next_run_at"] is None
    assert ended["status_reason"].startswith("The scheduler could not plan this job's next fire")
    assert alice.runs(poison["id"]) == []
    time.sleep(0.5)
    assert "dispatch failed" not in e2e_stack.processes["beat"].own_log_text()
