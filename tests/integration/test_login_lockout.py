"""Login lockout: the admin's, the browsable API's and the dashboard's login views after
repeated failures."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db

ADMIN = "/admin/login/"
API = "/api-auth/login/"
DASHBOARD = "/dashboard/login/"
LIMIT = settings.AXES_FAILURE_LIMIT


def _login(path: str, username: str, password: str, ip: str = "10.0.0.1"):
    return Client(REMOTE_ADDR=ip).post(path, {"username": username, "password": password})


def _fail(path: str, username: str, times: int, ip: str = "10.0.0.1") -> None:
    """Fail `times` logins: the form again each time, the lockout from the limit on."""
    for attempt in range(1, times + 1):
        status = _login(path, username, "wrong", ip).status_code
        assert status == (200 if attempt < LIMIT else 429)


def _logged_in(response) -> bool:
    return response.status_code == 302 and "sessionid" in response.cookies


@pytest.mark.parametrize(
    ("path", "user"), [(ADMIN, "charlie"), (API, "alice"), (DASHBOARD, "alice")]
)
def test_after_too_many_failures_the_right_password_is_refused(path, user, request):
    request.getfixturevalue(user)
    _fail(path, user, LIMIT)
    response = _login(path, user, "pw")
    assert response.status_code == 429
    assert int(response["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    assert "sessionid" not in response.cookies


def test_fewer_failures_than_the_limit_do_not_lock(charlie):
    _fail(ADMIN, "charlie", LIMIT - 1)
    assert _logged_in(_login(ADMIN, "charlie", "pw"))


def test_failures_on_either_view_count_together(alice):
    _fail(ADMIN, "alice", LIMIT - 1)
    assert _login(API, "alice", "wrong").status_code == 429  # the limit-th failure
    assert _login(ADMIN, "alice", "pw").status_code == 429
    assert _login(API, "alice", "pw").status_code == 429


def test_another_ip_and_another_user_are_not_locked_out(charlie, bob):
    _fail(ADMIN, "charlie", LIMIT)
    assert _login(ADMIN, "charlie", "pw").status_code == 429
    assert _logged_in(_login(ADMIN, "charlie", "pw", ip="10.0.0.2"))
    assert _logged_in(_login(API, "bob", "pw"))


def test_the_lockout_ends_after_the_cool_off(charlie):
    _fail(ADMIN, "charlie", LIMIT)
    assert _login(ADMIN, "charlie", "pw").status_code == 429
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timezone.timedelta(seconds=1)
    )
    assert _logged_in(_login(ADMIN, "charlie", "pw"))


def test_a_locked_out_user_keeps_using_the_api_with_a_token(alice):
    _fail(API, "alice", LIMIT)
    client = Client(REMOTE_ADDR="10.0.0.1")
    token = Token.objects.create(user=alice).key
    response = client.get("/api/v1/jobs", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
