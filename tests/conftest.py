"""Shared fixtures: named actors, API clients and a run directory (real database, real Redis)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from tests.e2e import harness
from tests.users import client_for, make_user


@pytest.fixture
def alice(django_user_model):
    return make_user("alice")


@pytest.fixture
def bob(django_user_model):
    return make_user("bob")


@pytest.fixture
def charlie(django_user_model):
    """Staff: sees every job."""
    return make_user("charlie", is_staff=True)


@pytest.fixture
def api(alice) -> APIClient:
    """Alice's API client (token auth)."""
    return client_for(alice)


@pytest.fixture
def bob_api(bob) -> APIClient:
    return client_for(bob)


@pytest.fixture
def staff_api(charlie) -> APIClient:
    return client_for(charlie)


@pytest.fixture
def coder(django_user_model) -> APIClient:
    """A user holding jobs.run_code (may create command, script and docker jobs)."""
    return client_for(make_user("coder", "jobs.run_code"))


@pytest.fixture
def root(django_user_model) -> APIClient:
    """A superuser."""
    return client_for(django_user_model.objects.create_superuser("root-user", "r@x.org", "pw"))


@pytest.fixture
def broker():
    """The test's Redis database, emptied before and after."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


# The e2e tests' figures (fire lags, figure lines) reach this process in their reports, also
# from pytest-xdist's workers: the controller loads this file, not tests/e2e/conftest.py.
def pytest_runtest_logreport(report):
    if report.when == "teardown":
        harness.ALL_LAGS.extend(
            tuple(value) for name, value in report.user_properties if name == "e2e_fire_lag"
        )
        harness.ALL_FIGURES.extend(
            value for name, value in report.user_properties if name == "e2e_figure"
        )


def pytest_terminal_summary(terminalreporter):
    summary = harness.lag_summary()
    if summary or harness.ALL_FIGURES:
        terminalreporter.write_sep("-", "e2e")
    if summary:
        terminalreporter.write_line(summary)
    for line in harness.ALL_FIGURES:
        terminalreporter.write_line(line)


@pytest.fixture
def run_dir() -> Iterator[Path]:
    """A directory the run's user may enter and write (tmp_path sits below a 0700 one)."""
    path = tempfile.mkdtemp(prefix="sched-test-")
    os.chmod(path, 0o777)
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)
