"""Test actors: a user (with permissions) and an API client with that user's token."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def make_user(username: str, *permissions: str, **extra):
    """A user named `username` holding `permissions` ("jobs.run_code", ...)."""
    user = get_user_model().objects.create_user(username, f"{username}@example.com", "pw", **extra)
    grant(user, *permissions)
    return user


def grant(user, *permissions: str) -> None:
    """Give `user` these permissions ("app_label.codename")."""
    for permission in permissions:
        app, _, codename = permission.partition(".")
        user.user_permissions.add(
            Permission.objects.get(codename=codename, content_type__app_label=app)
        )


def client_for(user) -> APIClient:
    """An API client authenticated with a new token of `user`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client
