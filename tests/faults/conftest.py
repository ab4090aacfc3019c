"""Fixtures of the fault-injection suite: a private PostgreSQL cluster, one product stack.

Everything runs on loopback and is private to this session: a PostgreSQL cluster made
with initdb (so it can be restarted without touching the machine's shared server), a
redis-server, gunicorn, Celery workers and beat (tests/e2e/harness.py), and a recording
HTTP target. Run serially: `make test-faults`, or
`pytest tests/faults -p no:xdist`.
"""

from __future__ import annotations

import functools
import signal

import pytest

from ..e2e import harness
from . import helpers

# Every fault test ends within this many seconds, or fails (and the session cleans up).
HARD_TIMEOUT = 120


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and item.get_closest_marker("faults"):
        for stack in harness.ACTIVE_STACKS:
            report.sections.append((f"product logs ({report.when})", stack.log_tails(60)))


def pytest_terminal_summary(terminalreporter):
    if helpers.FIGURES:
        terminalreporter.write_sep("-", "fault injection")
        for line in helpers.FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def private_postgres():
    bindir = helpers.postgres_bindir()
    if bindir is None:
        pytest.skip("the fault suite needs the PostgreSQL server binaries (initdb, pg_ctl)")
    server = helpers.PrivatePostgres(bindir)
    try:
        server.init().start()
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def stack(private_postgres, tmp_path_factory):
    """The product on the private PostgreSQL and Redis: web, one worker, one beat."""
    workdir = tmp_path_factory.mktemp("faults")
    with harness.Stack(
        workdir,
        database_url=private_postgres.url,
        env=helpers.FAULT_ENV,
        worker_concurrency=helpers.WORKER_CONCURRENCY,
    ) as product:
        product.postgres = private_postgres
        yield product


@pytest.fixture(scope="session")
def target():
    server = harness.Target().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clients(stack):
    pool = helpers.Clients(stack, "alice")
    yield pool
    pool.close()


@pytest.fixture
def api(clients):
    return clients.get()


@pytest.fixture
def fault_run(clients, target, api):
    """fault_run("label"): a helpers.FaultRun, the test's job group and figures."""
    return functools.partial(helpers.FaultRun, clients, target, api)


def _on_alarm(signum, frame):
    raise TimeoutError(f"fault test still running after its hard timeout ({HARD_TIMEOUT}s)")


@pytest.fixture(autouse=True)
def _fault_test(request, stack):
    """A hard timeout; the stack whole and healthy before and after each test."""
    _restore(stack)
    helpers.PHASES.clear()
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(HARD_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        _restore(stack)


def _restore(stack: harness.Stack) -> None:
    """Undo what a test broke: thaw, stop the extra processes, restart dead ones."""
    for process in list(stack.extra.values()) + list(stack.processes.values()):
        process.signal(signal.SIGCONT)
    for name in list(stack.extra):
        stack.stop_extra(name)
    if not stack.postgres.running():
        stack.postgres.start()
    if stack.redis.process is None or not stack.redis.process.alive():
        stack.redis.start()
    for name, process in list(stack.processes.items()):
        if not process.alive():
            stack.restart_process(name)
    harness.wait_until(
        lambda: _healthy(stack), timeout=30, interval=0.2, what="the product's health 200"
    )


def _healthy(stack: harness.Stack) -> bool:
    import requests

    try:
        return requests.get(f"{stack.base_url}/api/v1/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False
