"""Request rates from the environment: strict reading, and their meaning in seconds."""

from __future__ import annotations

import pytest

from jobs.api.throttles import parse_rate
from schedsite.env import env_rate


@pytest.mark.parametrize(
    ("raw", "read", "parsed"),
    [
        ("100/min", "100/min", (100, 60)),
        (" 5/S ", "5/s", (5, 1)),
        ("3000/minute", "3000/minute", (3000, 60)),
        ("2/hour", "2/hour", (2, 3600)),
        ("7/day", "7/day", (7, 86400)),
        ("off", None, None),
        ("", None, None),
    ],
)
def test_it_reads_a_rate_and_off(monkeypatch, raw, read, parsed):
    monkeypatch.setenv("API_THROTTLE_TEST", raw)
    assert env_rate("API_THROTTLE_TEST", "1/s") == read
    assert parse_rate(read) == parsed


def test_it_takes_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("API_THROTTLE_TEST", raising=False)
    assert env_rate("API_THROTTLE_TEST", "120/min") == "120/min"


@pytest.mark.parametrize("raw", ["100", "0/min", "-1/min", "ten/min", "100/week", "1.5/s"])
def test_it_refuses_what_is_not_a_rate(monkeypatch, raw):
    monkeypatch.setenv("API_THROTTLE_TEST", raw)
    with pytest.raises(ValueError, match="API_THROTTLE_TEST"):
        env_rate("API_THROTTLE_TEST", "1/s")
