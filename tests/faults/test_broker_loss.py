"""Redis restarts empty while hundreds of runs are queued, held as ETAs, running, or due.

Redis here keeps nothing (no RDB, no AOF): every queued message, every ETA message held
by a worker and every unacknowledged one is gone. The database still knows each run:
the reaper publishes again the runs still `pending` REPUBLISH_AFTER past their due time,
and the worker's claim drops any duplicate. Every accepted job runs once per fire.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from ..e2e.harness import parse_ts
from .helpers import (
    LOOKAHEAD,
    REAP_INTERVAL,
    REPUBLISH_AFTER,
    assert_clean,
    create_many,
    due_of,
    http_case,
    iso,
    not_before,
    whole_second,
)

pytestmark = [pytest.mark.faults]

REDIS_DOWN_FOR = 1.0  # seconds between the crash and the empty server's start


def test_redis_restarts_empty_while_jobs_are_queued_and_due(stack, target, clients, fault_run):
    fault = fault_run("redis")
    group = fault.group
    due = whole_second(time.time() + 7)
    cases = (
        # Running when Redis goes away.
        [http_case(target, group, not_before(due - 1.5), kind="slow/2") for _ in range(40)]
        # Planned and held by the worker as ETA messages when Redis goes away.
        + [http_case(target, group, not_before(due)) for _ in range(150)]
        # Due while Redis is down or coming back.
        + [http_case(target, group, not_before(due + 0.2 * i)) for i in range(20)]
        # Planned after the restart, while the queues are refilled.
        + [http_case(target, group, not_before(due + 3 + i % 4)) for i in range(60)]
        # A recurring job whose fires are planned across the restart.
        + [
            http_case(
                target,
                group,
                {"every": "1s"},
                start_at=iso(due - 2),
                max_runs=8,
                expect=("completed",),
            )  # fmt: skip
            for _ in range(20)
        ]
    )
    create_many(clients, cases)

    # The 150 jobs due together are planned (queued with an ETA) LOOKAHEAD before their
    # due time: Redis goes away while the worker holds them.
    together = Counter(due_of(case) for case in cases[40:190]).most_common(1)[0][0]
    while time.time() < together - 0.8:
        time.sleep(0.02)
    crashed_at = time.time()
    stack.redis.restart(down_for=REDIS_DOWN_FOR)
    back_at = time.time()

    analysis = fault.settle(cases)
    # Recovery: for the fires that were due by the time Redis came back (their messages were
    # lost), from Redis back to the request at the target.
    recovery = 0.0
    for case in cases:
        for run in case.runs:
            run_due = parse_ts(run["due_at"])
            if run_due > back_at + LOOKAHEAD:
                continue
            got = [r.received_at for r in case.requests if r.headers["X-Sched-Run-Id"] == run["id"]]
            if got:
                recovery = max(recovery, min(got) - max(back_at, run_due))
    fault.report(
        "Redis restarted empty",
        analysis,
        f"{recovery:.2f}s Redis back -> request of a fire whose message was lost "
        f"(down {back_at - crashed_at:.1f}s)",
    )
    assert_clean(analysis)
    for case in cases:
        if case.body["schedule"] == {"every": "1s"}:
            assert len(case.runs) == 8, case.runs
        else:
            assert len(case.runs) == 1, case.runs
        assert {r["status"] for r in case.runs} == {"succeeded"}, case.runs
        assert len(case.requests) == len(case.runs)  # exactly once per fire
    # Lost messages come back after REPUBLISH_AFTER (plus a reaper pass, the worker's
    # reconnection and the backlog), not after the broker's visibility timeout (1 h).
    assert recovery < REPUBLISH_AFTER + LOOKAHEAD + REAP_INTERVAL + 25, recovery
