"""Shared fixtures: named actors and API clients (real database, real Redis)."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def _user(django_user_model, username: str, **extra):
    return django_user_model.objects.create_user(username, f"{username}@example.com", "pw", **extra)


@pytest.fixture
def alice(django_user_model):
    return _user(django_user_model, "alice")


@pytest.fixture
def bob(django_user_model):
    return _user(django_user_model, "bob")


@pytest.fixture
def charlie(django_user_model):
    """Staff: sees every job."""
    return _user(django_user_model, "charlie", is_staff=True)


def _client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def api(alice) -> APIClient:
    """Alice's API client (token auth)."""
    return _client_for(alice)


@pytest.fixture
def bob_api(bob) -> APIClient:
    return _client_for(bob)


@pytest.fixture
def staff_api(charlie) -> APIClient:
    return _client_for(charlie)


@pytest.fixture
def coder(django_user_model) -> APIClient:
    """A user holding jobs.run_code (may create command, script and docker jobs)."""
    user = _user(django_user_model, "coder")
    user.user_permissions.add(
        Permission.objects.get(codename="run_code", content_type__app_label="jobs")
    )
    return _client_for(user)


@pytest.fixture
def root(django_user_model) -> APIClient:
    """A superuser."""
    return _client_for(django_user_model.objects.create_superuser("root-user", "r@x.org", "pw"))


@pytest.fixture
def broker():
    """The test's Redis database, emptied before and after."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
