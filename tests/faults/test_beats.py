"""The clock: two beats at once, and a beat that stops for a while and comes back.

Two beats (two dispatchers) never plan one fire twice: `SKIP LOCKED` shares the due jobs
between them and the run's unique key (job, revision, due time, attempt) refuses a second
plan. A beat that comes back after downtime applies the misfire policy: a recurring job
runs once for the fires it missed (the latest), within `misfire_grace`, never a burst; a
fire later than its `misfire_grace` is recorded `missed`.
"""

from __future__ import annotations

import signal
import time

import pytest

from ..e2e.harness import parse_ts
from .helpers import (
    LOOKAHEAD,
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


def _runs_exactly(count: int):
    def check(case: JobCase) -> str | None:
        dues = {r["due_at"] for r in case.runs}
        if len(case.runs) != count or len(dues) != count:
            return f"{len(case.runs)} runs for {len(dues)} fires, expected {count}"
        if len(case.requests) != count:
            return f"{len(case.requests)} requests, expected {count}"
        return None

    return check


def test_two_beats_never_fire_a_job_twice(stack, target, clients, fault_run):
    fault = fault_run("beats")
    group = fault.group
    beat2 = stack.start_extra("beat2", stack.beat_argv("beat2"))
    stack.wait_process_ready(beat2)
    due = whole_second(time.time() + 6)
    once = _runs_exactly(1)
    thrice = _runs_exactly(3)
    recurring = {"expect": ("completed",), "check": thrice, "max_runs": 3, "start_at": iso(due)}
    cases = (
        # One-off jobs due together, in eight waves a quarter of a second apart.
        [http_case(target, group, not_before(due + (i % 8) * 0.25), check=once) for i in range(200)]
        + [http_case(target, group, {"every": "1s"}, **recurring) for _ in range(60)]
        + [http_case(target, group, {"cron": "* * * * * *"}, **recurring) for _ in range(40)]
    )
    create_many(clients, cases)

    analysis = fault.settle(cases)
    fault.report("two beats", analysis, "n/a (no fault to recover from)")
    assert_clean(analysis)
    assert analysis.repeats == 0, "a fire reached the target twice"
    assert analysis.lost == 0
    assert beat2.alive() and stack.processes["beat"].alive()
    for case in cases:
        assert {r["status"] for r in case.runs} == {"succeeded"}, case.runs


def _across_the_downtime(interval: float, start: float, stopped_at: float, back_at: float):
    """A recurring job across the beat's downtime: fires on its grid, no burst, and one
    run for what it missed as soon as beat is back."""
    planned_before_stop = stopped_at + LOOKAHEAD + 0.3  # the dispatcher's lookahead

    def check(case: JobCase) -> str | None:
        dues = sorted(parse_ts(r["due_at"]) for r in case.runs)
        if {r["status"] for r in case.runs} != {"succeeded"}:
            return f"statuses {sorted({r['status'] for r in case.runs})}"
        steps = [(d - start) / interval for d in dues]
        if any(abs(step - round(step)) > 1e-3 for step in steps):
            return f"fires off the schedule: {dues}"
        if not dues or dues[0] != start or dues[0] > stopped_at:
            return f"the job did not run from its start until the stop: {dues}"
        # While beat was down (past what it had planned), at most one fire ran: the one
        # run for what it missed. A burst would run every missed fire.
        missed_window = [d for d in dues if planned_before_stop < d <= back_at]
        if len(missed_window) > 1:
            return f"a burst: {len(missed_window)} missed fires ran: {dues}"
        # And it ran at once when beat was back: the latest missed fire (or the first one
        # after the restart, if the restart itself took longer than an interval).
        if not [d for d in dues if planned_before_stop < d <= back_at + interval + 1]:
            return f"no run for the missed fires after the restart: {dues}"
        return None

    return check


def test_beat_stops_for_a_while_and_comes_back(stack, target, clients, fault_run):
    fault = fault_run("beatdown")
    group = fault.group
    start = whole_second(time.time() + 5)
    stop_at = start + 2.5
    down_for = 7.0
    end = start + 15
    grid = {"start_at": iso(start), "end_at": iso(end), "misfire_grace": "30s"}
    # Recurring jobs, running before the stop (their checks get the real times later). Few
    # enough that this 2-core machine keeps up with their fires (about 40 runs a second):
    # an overloaded dispatcher is late, and then collapses fires by design.
    every1 = [
        http_case(target, group, {"every": "1s"}, expect=("completed",), **grid) for _ in range(20)
    ]
    every2 = [
        http_case(target, group, {"every": "2s"}, expect=("completed",), **grid) for _ in range(20)
    ]
    create_many(clients, every1 + every2)

    while time.time() < stop_at:
        time.sleep(0.02)
    beat = stack.processes["beat"]
    beat.signal(signal.SIGKILL)
    stopped_at = time.time()
    beat.proc.wait(5)

    # While beat is down: one-off jobs fall due (within grace, and past a 2 s grace),
    # a recurring job's only fire passes its grace, and `now` jobs still run (web publishes).
    s = stopped_at
    once = _runs_exactly(1)
    in_grace = [
        http_case(target, group, not_before(s + 2 + (i % 8) * 0.25, lead=1), check=once)
        for i in range(100)
    ]
    past_grace = [
        http_case(
            target,
            group,
            not_before(s + 2 + (i % 4) * 0.25, lead=1),
            misfire_grace="2s",
            expect=("failed",),
            check=_missed_once,
        )  # fmt: skip
        for i in range(40)
    ]
    recurring_past_grace = [
        http_case(
            target,
            group,
            {"every": "1h"},
            start_at=not_before(s + 3, lead=1),
            misfire_grace="2s",
            max_runs=1,
            expect=("completed",),
            check=_missed_once,
        )  # fmt: skip
        for _ in range(30)
    ]
    now_jobs = [http_case(target, group, "now", check=once) for _ in range(20)]
    during = in_grace + past_grace + recurring_past_grace + now_jobs
    create_many(clients, during)

    # Back after `down_for`, and after every fire above is late by more than its 2 s grace
    # (creating them may take a while on a busy machine).
    latest = max(
        [due_of(c) for c in in_grace + past_grace]
        + [parse_ts(c.body["start_at"]) for c in recurring_past_grace]
    )
    while time.time() < max(stopped_at + down_for, latest + 2.5):
        time.sleep(0.05)
    restarted_at = time.time()
    stack.restart_process("beat")
    back_at = time.time()
    for case in every1:
        case.check = _across_the_downtime(1.0, start, stopped_at, back_at)
    for case in every2:
        case.check = _across_the_downtime(2.0, start, stopped_at, back_at)

    cases = every1 + every2 + during
    analysis = fault.settle(cases, timeout=max(end - time.time(), 0) + 30, quiet=0.5)
    # Recovery: beat restarted -> the request of a fire it had missed.
    recovery = 0.0
    for case in every1 + every2 + in_grace:
        for run in case.runs:
            if stopped_at + LOOKAHEAD < parse_ts(run["due_at"]) < back_at:
                got = request_at(case, run["id"])
                if got is not None:
                    recovery = max(recovery, got - restarted_at)
    fault.report(
        "beat down, then back",
        analysis,
        f"{recovery:.2f}s beat restarted -> request of a missed fire "
        f"(beat down {restarted_at - stopped_at:.1f}s, up again in {back_at - restarted_at:.1f}s)",
    )
    assert_clean(analysis)
    assert analysis.repeats == 0
    assert analysis.missed == len(past_grace) + len(recurring_past_grace)
    for case in now_jobs:  # `now` jobs do not wait for beat
        assert request_at(case, case.runs[0]["id"]) < restarted_at, case.runs
    for case in in_grace:
        assert case.runs[0]["status"] == "succeeded"
        assert request_at(case, case.runs[0]["id"]) > restarted_at


def _missed_once(case: JobCase) -> str | None:
    if [r["status"] for r in case.runs] != ["missed"]:
        return f"runs {[r['status'] for r in case.runs]}, expected one missed"
    if case.requests:
        return f"{len(case.requests)} requests for a missed fire"
    return None
