"""A worker dies (SIGKILL) or freezes (SIGSTOP) in the middle of hundreds of runs.

Its running runs are found by their silent heartbeat, marked `lost`, and a `recovery`
attempt with the same idempotency key runs on the other worker; the messages it held
but had not started are published again by the reaper. A frozen worker that wakes up
late changes nothing: its late results and late messages are dropped.
"""

from __future__ import annotations

import signal
import time

import pytest

from ..e2e.harness import parse_ts, wait_until
from .helpers import (
    HEARTBEAT_INTERVAL,
    LOST_AFTER,
    REAP_INTERVAL,
    REPUBLISH_AFTER,
    assert_clean,
    create_many,
    http_case,
    not_before,
    request_at,
    start_worker,
    wait_settled,
    whole_second,
    worker_pid,
)

pytestmark = [pytest.mark.faults]

# From a worker's death to its runs marked lost and their recovery attempts planned: the
# heartbeat goes silent, LOST_AFTER passes, the next reaper pass finds it (plus slack for
# a busy, shared 2-core machine, where beat may wait for the CPU).
DETECTION_BOUND = HEARTBEAT_INTERVAL + LOST_AFTER + REAP_INTERVAL + 3.5


def _in_flight(target, cases, count: int, timeout: float = 40) -> None:
    paths = {case.path for case in cases}
    wait_until(
        lambda: sum(1 for r in list(target.requests) if r.path in paths) >= count,
        timeout=timeout,
        interval=0.05,
        what=f"{count} requests in flight",
    )


def _signal_mid_run(stack, target, clients, group: str, name: str, sig: int):
    """Start worker `name`; give it 120 slow runs (2 s responses) and 40 held as ETA
    messages; once 50 requests are in flight, send it `sig`.
    Return (the worker, the cases, when the signal was sent)."""
    worker = start_worker(stack, name)
    due = whole_second(time.time() + 5)
    cases = [http_case(target, group, not_before(due), kind="slow/2") for _ in range(120)] + [
        http_case(target, group, not_before(due + 1.5)) for _ in range(40)
    ]
    create_many(clients, cases)
    _in_flight(target, cases[:120], 50)
    time.sleep(0.3)
    worker.signal(sig)
    return worker, cases, time.time()


def _lost_runs(clients, cases) -> list[tuple[object, dict]]:
    """(case, run detail) of every lost run."""
    api = clients.get()
    return [
        (case, api.run(run["id"])) for case in cases for run in case.runs if run["status"] == "lost"
    ]


def _recovery_figures(cases, fault_at: float) -> tuple[float, float]:
    """(longest fault -> recovery attempt planned, longest fault -> its request at the target)."""
    planned, delivered = 0.0, 0.0
    for case in cases:
        for run in case.runs:
            if run["trigger"] != "recovery":
                continue
            planned = max(planned, parse_ts(run["due_at"]) - fault_at)
            got = request_at(case, run["id"])
            if got is not None:
                delivered = max(delivered, got - fault_at)
    return planned, delivered


def test_sigkill_a_worker_in_the_middle_of_runs(stack, target, clients, fault_run):
    fault = fault_run("kill")
    group = fault.group
    doomed = start_worker(stack, "worker-doomed")
    due = whole_second(time.time() + 6)
    cases = (
        # Running when the worker dies (2 s responses), or prefetched behind those.
        [http_case(target, group, not_before(due), kind="slow/2") for _ in range(160)]
        # Held as ETA messages by the workers when one dies.
        + [http_case(target, group, not_before(due + 1.5)) for _ in range(60)]
        # Planned after the death.
        + [http_case(target, group, not_before(due + 5), kind="slow/1") for _ in range(60)]
    )
    create_many(clients, cases)

    _in_flight(target, cases[:160], 60)
    time.sleep(0.3)
    # The runs due together came in bundles (several runs per message, jobs/run_pool.py):
    # the worker dies holding bundles partly run, partly waiting in its run pool.
    assert "bundle of " in doomed.own_log_text()
    doomed.signal(signal.SIGKILL)
    killed_at = time.time()
    doomed.proc.wait(5)

    analysis = fault.settle(cases)
    planned, delivered = _recovery_figures(cases, killed_at)
    fault.report(
        "worker SIGKILL mid-run",
        analysis,
        f"{planned:.2f}s kill -> lost + recovery planned, "
        f"{delivered:.2f}s kill -> recovered request at the target",
    )
    assert_clean(analysis)
    assert analysis.lost > 0, "the killed worker had no run in flight"
    assert analysis.recovery == analysis.lost
    # Only the dead worker's runs were lost (no false alarm on the live one).
    for case, run in _lost_runs(clients, cases):
        assert worker_pid(run) == doomed.proc.pid, (case.name, run)
        assert parse_ts(run["finished_at"]) - killed_at < DETECTION_BOUND, run
    assert planned < DETECTION_BOUND, f"lost runs found {planned:.2f}s after the kill"
    # Everything the dead worker held ran in the end, within a bounded time.
    for case in cases:
        assert case.job["status"] == "succeeded"
        assert sum(r["status"] == "succeeded" for r in case.runs) == 1, case.runs
    assert analysis.max_lag < DETECTION_BOUND + REPUBLISH_AFTER + 15


def test_a_frozen_worker_wakes_up_late_and_changes_nothing(stack, target, clients, api, fault_run):
    fault = fault_run("freeze")
    group = fault.group
    frozen, cases, frozen_at = _signal_mid_run(
        stack, target, clients, group, "worker-frozen", signal.SIGSTOP
    )
    # Its runs are recovered elsewhere while it sleeps.
    wait_settled(api, group, timeout=60)
    frozen.signal(signal.SIGCONT)
    thawed_at = time.time()
    # It wakes up: heartbeats find its runs lost, results and stale messages are dropped.
    wait_until(
        lambda: "late result ignored" in frozen.own_log_text(),
        timeout=10,
        what="the thawed worker to report a late result",
    )
    time.sleep(2 * HEARTBEAT_INTERVAL + 1.0)
    analysis = fault.analyze(cases)
    planned, delivered = _recovery_figures(cases, frozen_at)
    log = frozen.own_log_text()
    late_results = log.count("late result ignored")
    late_messages = log.count("run dropped")
    fault.report(
        "worker SIGSTOP, SIGCONT after recovery",
        analysis,
        f"{planned:.2f}s freeze -> lost + recovery planned, "
        f"{delivered:.2f}s freeze -> recovered request "
        f"(then {late_results} late results and {late_messages} late messages dropped "
        f"after the thaw, {thawed_at - frozen_at:.1f}s frozen)",
    )
    assert_clean(analysis)
    assert analysis.lost > 0
    for case, run in _lost_runs(clients, cases):
        # Still lost: the late result did not overwrite it.
        assert run["status"] == "lost"
        assert worker_pid(run) == frozen.proc.pid, (case.name, run)
    for case in cases:
        assert case.job["status"] == "succeeded", case.job
        assert sum(r["status"] == "succeeded" for r in case.runs) == 1, case.runs
    assert planned < DETECTION_BOUND
    assert frozen.alive()


def test_a_worker_stopped_gracefully_finishes_or_hands_back_its_runs(
    stack, target, clients, fault_run
):
    """SIGTERM (a deploy): the worker stops taking work, finishes what runs, and gives the
    messages it held but had not started back to the queue. Nothing is lost or run twice."""
    fault = fault_run("sigterm")
    group = fault.group
    leaving, cases, stopped_at = _signal_mid_run(
        stack, target, clients, group, "worker-leaving", signal.SIGTERM
    )
    leaving.proc.wait(30)
    exited_after = time.time() - stopped_at

    analysis = fault.settle(cases)
    log = leaving.own_log_text()
    fault.report(
        "worker SIGTERM mid-run",
        analysis,
        f"n/a (the worker finished its runs and left after {exited_after:.1f}s)",
    )
    assert_clean(analysis)
    assert analysis.lost == 0 and analysis.repeats == 0
    for case in cases:
        assert [r["status"] for r in case.runs] == ["succeeded"], case.runs
    assert leaving.proc.returncode == 0, log[-3000:]
    # It finished the runs it had started: some succeeded runs are the leaving worker's.
    api = clients.get()
    assert any(
        worker_pid(api.run(run["id"])) == leaving.proc.pid
        for case in cases[:120]
        for run in case.runs
        if run["status"] == "succeeded"
    ), "no run finished by the worker that was stopped"
