"""PostgreSQL restarts under load: web, workers and beat carry on by themselves.

The private cluster of this session is stopped (fast shutdown: every connection is cut)
while runs are in flight and fires are due, kept down for a few seconds while clients
keep creating jobs, and started again. No product process is restarted: each one must
reconnect on its own. A client that got an error retries; it looks its job up by its
unique name first, so a create whose answer was lost is not made twice.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
import requests

from ..e2e.harness import parse_ts, wait_until
from .helpers import (
    RETRIED_ERRORS,
    JobCase,
    assert_clean,
    create_many,
    due_of,
    http_case,
    iso,
    not_before,
    request_at,
    whole_second,
)

pytestmark = [pytest.mark.faults]

DOWN_FOR = 4.0


def _one_success(case: JobCase) -> str | None:
    """A one-off job: one fire; if its run was cut off, one recovery attempt finished it."""
    fires = [r for r in case.runs if r["attempt"] == 1]
    succeeded = [r for r in case.runs if r["status"] == "succeeded"]
    if len(fires) != 1 or len(succeeded) != 1:
        return f"runs {[(r['attempt'], r['status']) for r in case.runs]}"
    return None


def _eight_runs(case: JobCase) -> str | None:
    fires = [r for r in case.runs if r["attempt"] == 1]
    done = {r["idempotency_key"] if r["attempt"] > 1 else r["id"] for r in case.runs
            if r["status"] == "succeeded"}  # fmt: skip
    if len(fires) != 8 or len(done) != 8:
        runs = [(r["attempt"], r["status"]) for r in case.runs]
        return f"{len(fires)} fires, {len(done)} done: {runs}"
    return None


def test_postgres_restarts_and_everything_carries_on(stack, target, clients, fault_run):
    fault = fault_run("pg")
    group = fault.group
    pids = {name: process.proc.pid for name, process in stack.processes.items()}
    base = whole_second(time.time() + 5)
    before = (
        # Running when the database goes away (their result cannot be written at once).
        [
            http_case(target, group, not_before(base), kind="slow/2", check=_one_success)
            for _ in range(40)
        ]
        # Due while it is down, or just after.
        + [
            http_case(target, group, not_before(base + 1 + (i % 20) * 0.3), check=_one_success)
            for i in range(100)
        ]
        + [
            http_case(
                target,
                group,
                {"every": "1s"},
                start_at=iso(base),
                max_runs=8,
                expect=("completed",),
                check=_eight_runs,
            )  # fmt: skip
            for _ in range(30)
        ]
    )
    create_many(clients, before)

    # Stop it while the slow requests are in flight.
    in_flight = max(due_of(case) for case in before[:40]) + 0.5
    while time.time() < in_flight:
        time.sleep(0.02)
    during = [http_case(target, group, "now", check=_one_success) for _ in range(40)]
    RETRIED_ERRORS.clear()
    stack.postgres.stop("fast")
    stopped_at = time.time()
    # Clients keep creating jobs while the database is down: errors, then success.
    failures: list[BaseException] = []

    def create_during() -> None:
        try:
            create_many(clients, during, patient=60)
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    creating = threading.Thread(target=create_during, daemon=True)
    creating.start()
    time.sleep(DOWN_FOR)
    stack.postgres.start()
    back_at = time.time()

    def healthy() -> bool:
        try:
            return requests.get(f"{stack.base_url}/api/v1/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_until(healthy, timeout=30, interval=0.05, what="health 200 after the restart")
    health_back = time.time() - back_at
    after = [http_case(target, group, "now", check=_one_success) for _ in range(30)] + [
        http_case(target, group, "2s", check=_one_success) for _ in range(30)
    ]
    create_many(clients, after, patient=30)
    creating.join(60)
    assert not creating.is_alive() and not failures, f"creates during the outage: {failures}"
    errors = Counter(RETRIED_ERRORS)
    cases = before + during + after

    analysis = fault.settle(cases)
    # Recovery: database back -> the request of a fire that fell due while it was down
    # (or a run cut off by the stop, recovered).
    recovery = 0.0
    for case in cases:
        for run in case.runs:
            if run["status"] == "succeeded" and parse_ts(run["due_at"]) < back_at:
                got = request_at(case, run["id"])
                if got is not None and got > back_at:
                    recovery = max(recovery, got - back_at)
    fault.report(
        "PostgreSQL restarted",
        analysis,
        f"{recovery:.2f}s database back -> request of a fire due while it was down; "
        f"health 200 again {health_back:.2f}s after the start (down {back_at - stopped_at:.1f}s; "
        f"the clients retried {sum(errors.values())} API errors: {dict(errors)})",
    )
    assert_clean(analysis)
    # No process was restarted: each one reconnected by itself.
    assert {name: p.proc.pid for name, p in stack.processes.items()} == pids
    stack.assert_alive()
    assert health_back < 10
    assert errors, "no create met the outage"
