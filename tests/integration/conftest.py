"""Fixtures of the integration tests: a loopback HTTP target per test."""

from __future__ import annotations

import pytest

from tests.target import Target


@pytest.fixture
def target():
    """A real HTTP server on loopback that records what it receives (tests/target.py)."""
    server = Target()
    yield server
    server.close()
