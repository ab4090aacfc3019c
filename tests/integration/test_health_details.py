"""Anonymous /api/v1/health names what failed, never where it is: details go to the log."""

from __future__ import annotations

import logging

import pytest

pytestmark = pytest.mark.django_db


def test_a_failed_check_answers_error_only_and_logs_the_details(client, settings, caplog):
    settings.CELERY_BROKER_URL = "redis://broker-host.invalid:6390/0"
    with caplog.at_level(logging.WARNING, logger="jobs.api.views"):
        response = client.get("/api/v1/health")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "broker": "error"}
    assert b"broker-host" not in response.content and b"6390" not in response.content
    assert "broker-host.invalid" in caplog.text
