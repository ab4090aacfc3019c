"""Anonymous /api/v1/health says which service failed, never its host, port or role."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_a_broker_that_does_not_answer_is_named_without_its_address(caplog):
    with override_settings(CELERY_BROKER_URL="redis://broker-user:pw@127.0.0.1:1/0"):
        response = APIClient().get("/api/v1/health")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "broker": "error"}
    assert "127.0.0.1" not in response.content.decode()
    assert "the broker does not answer" in caplog.text  # the operator's details are logged
