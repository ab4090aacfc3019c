"""API request rates: per user, per anonymous IP, job creates (higher for trusted clients)."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from jobs.api import throttles
from tests.users import client_for, make_user

from .helpers import http_job

pytestmark = pytest.mark.django_db

# Per day: a window never turns over during a test.
RATES = {"user": "3/day", "anon": "2/day", "create": "2/day", "create_trusted": "5/day"}


@pytest.fixture(autouse=True)
def rates(settings, monkeypatch):
    """Low rates on the test's private Redis, counted from zero."""
    settings.API_THROTTLE_RATES = dict(RATES)
    monkeypatch.setattr(throttles, "_cache_down_until", 0.0)
    cache.clear()
    return settings.API_THROTTLE_RATES


@pytest.fixture
def trusted(db):
    return client_for(make_user("trent", "jobs.trusted_client"))


def _statuses(client, count, path="/api/v1/jobs", **extra):
    return [client.get(path, **extra).status_code for _ in range(count)]


def _creates(client, count, path="/api/v1/jobs"):
    return [client.post(path, http_job(), format="json").status_code for _ in range(count)]


def test_a_user_past_their_rate_gets_429_with_retry_after(api):
    assert _statuses(api, 3) == [200, 200, 200]
    response = api.get("/api/v1/jobs")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 86400
    assert set(response.json()) == {"detail"}
    assert "throttled" in response.json()["detail"]


def test_another_user_is_not_affected_by_one_users_exhaustion(api, bob_api):
    assert _statuses(api, 4)[-1] == 429
    assert _statuses(bob_api, 3) == [200, 200, 200]
    assert api.get("/api/v1/jobs").status_code == 429


def test_job_creates_have_their_own_rate_on_both_create_routes(api):
    assert _creates(api, 1) == [201]
    assert _creates(api, 2, "/api/v1/products/p/groups/g/jobs") == [201, 429]
    assert _statuses(api, 3) == [200, 200, 200]  # reads are counted apart


def test_a_trusted_client_gets_the_higher_create_rate(api, trusted, root):
    assert _creates(api, 3) == [201, 201, 429]
    assert _creates(trusted, 6) == [201] * 5 + [429]
    assert _creates(root, 6) == [201] * 5 + [429]


def test_anonymous_health_is_limited_per_client_ip():
    monitor, other = APIClient(REMOTE_ADDR="10.0.0.1"), APIClient(REMOTE_ADDR="10.0.0.2")
    assert _statuses(monitor, 3, "/api/v1/health") == [200, 200, 429]
    assert _statuses(other, 2, "/api/v1/health") == [200, 200]


def test_a_forged_x_forwarded_for_is_not_a_new_client_without_proxies():
    client = APIClient(REMOTE_ADDR="10.0.0.1")
    answers = [
        client.get("/api/v1/health", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}").status_code
        for i in range(3)
    ]
    assert answers == [200, 200, 429]


def test_behind_a_proxy_the_client_is_the_address_it_appended(settings):
    settings.PROXY_COUNT = 1
    proxy = APIClient(REMOTE_ADDR="10.0.0.254")
    forged = "203.0.113.9, 198.51.100.1"  # the client's own claim, then what the proxy saw
    assert _statuses(proxy, 3, "/api/v1/health", HTTP_X_FORWARDED_FOR=forged) == [200, 200, 429]
    other = "203.0.113.9, 198.51.100.2"
    assert _statuses(proxy, 1, "/api/v1/health", HTTP_X_FORWARDED_FOR=other) == [200]


def test_off_turns_a_rate_off(api, rates):
    rates["user"] = None
    assert set(_statuses(api, 6)) == {200}


def test_the_api_answers_without_throttling_when_the_cache_is_down(api, settings, caplog):
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="jobs.api.throttles"):
        assert _statuses(api, 6) == [200] * 6
        assert _creates(api, 3) == [201] * 3
    assert time.monotonic() - started < 5
    warnings = [r for r in caplog.records if "cache is unavailable" in r.getMessage()]
    assert len(warnings) == 1  # then left alone for a while, not one line per request
