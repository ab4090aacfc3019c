"""Fixtures for the end-to-end tests: one product stack and one HTTP target per session.

The stack runs on a fresh database: PostgreSQL when DATABASE_URL starts with
`postgres`, else a SQLite file. See harness.py.
"""

from __future__ import annotations

import contextlib
import os

import pytest

from .. import podman
from . import harness


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items):
    # `make test` runs with `-n 2 --dist loadgroup`: keep every e2e test on one xdist
    # worker so the session starts the stack once. (pytest-xdist 3.8 with pytest 9.2 ignores
    # groups: it renames `item._nodeid`, which pytest 9.2 no longer reads. Then each xdist
    # worker that gets e2e tests starts its own private stack, which works too.)
    for item in items:
        if item.get_closest_marker("e2e") and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group("e2e"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and harness.ACTIVE_STACKS and item.get_closest_marker("e2e"):
        for stack in harness.ACTIVE_STACKS:
            report.sections.append((f"e2e logs ({report.when})", stack.log_tails()))


@pytest.fixture(scope="session")
def e2e_stack(tmp_path_factory):
    """Redis, a fresh database, migrations, users alice and bob, web + worker + beat.

    The processes get the DOCKER_HOST of a Podman service (scripts/podman-setup.sh) for
    docker tasks; `stack.docker_host` is None when Podman cannot run here, and
    `stack.docker_unavailable` says why.
    """
    workdir = tmp_path_factory.mktemp("e2e")
    docker_host, why = podman.docker_host()
    previous = os.environ.get("DOCKER_HOST")
    with contextlib.ExitStack() as cleanup:
        try:  # the stack copies os.environ when it starts
            if docker_host:
                os.environ["DOCKER_HOST"] = docker_host
            stack = cleanup.enter_context(
                harness.Stack(workdir, database_url=os.environ.get("DATABASE_URL"))
            )
        finally:
            if previous is None:
                os.environ.pop("DOCKER_HOST", None)
            else:
                os.environ["DOCKER_HOST"] = previous
        stack.docker_host = docker_host
        stack.docker_unavailable = why
        yield stack


@pytest.fixture(scope="session")
def target():
    """The loopback HTTP target. At the end, no path got a request after its test checked it."""
    server = harness.Target().start()
    try:
        yield server
        surprises = server.late_surprises()
        assert not surprises, f"target paths with late or duplicate requests: {surprises}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def alice(e2e_stack):
    client = e2e_stack.api("alice")
    yield client
    client.close()


@pytest.fixture(scope="session")
def bob(e2e_stack):
    client = e2e_stack.api("bob")
    yield client
    client.close()


@pytest.fixture(scope="session")
def carol(e2e_stack):
    """Holds the jobs.run_code permission: may create command, script and docker jobs."""
    client = e2e_stack.api("carol")
    yield client
    client.close()


@pytest.fixture(scope="session")
def dave(e2e_stack):
    """A superuser."""
    client = e2e_stack.api("dave")
    yield client
    client.close()


@pytest.fixture
def anon(e2e_stack):
    client = e2e_stack.api(None)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _stack_still_up(request):
    """Each e2e test ends with the product's processes still running; report its fire lags."""
    harness.FIRE_LAGS.clear()
    yield
    request.node.user_properties.extend(("e2e_fire_lag", lag) for lag in harness.FIRE_LAGS)
    harness.FIRE_LAGS.clear()
    if request.node.get_closest_marker("e2e"):
        for stack in harness.ACTIVE_STACKS:
            stack.assert_alive()
