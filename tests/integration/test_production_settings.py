"""The production settings refuse weak secrets, read the HTTPS settings from the
environment, and pass `manage.py check --deploy` as docs/security.md documents them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k3y-" + "abcdefghij" * 6
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": STRONG_KEY,
    "ALLOWED_HOSTS": "sched.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "SECURE_COOKIES": "1",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {
        **{k: v for k, v in os.environ.items() if k not in PRODUCTION},
        "DJANGO_SETTINGS_MODULE": "schedsite.settings",
        "DATABASE_URL": "",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_production_settings(tmp_path):
    done = manage(
        "check", "--deploy", "--fail-level", "WARNING", VAR_DIR=str(tmp_path), **PRODUCTION
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


@pytest.mark.parametrize("key", ["short-key", "a" * 60, ""])
def test_a_weak_or_missing_secret_key_stops_the_process_when_debug_is_off(tmp_path, key):
    done = manage("check", VAR_DIR=str(tmp_path), **{**PRODUCTION, "SECRET_KEY": key})
    assert done.returncode != 0
    assert "SECRET_KEY must" in done.stderr


def test_the_https_settings_come_from_the_environment(tmp_path):
    script = (
        "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_PROXY_SSL_HEADER)"
    )
    done = manage("shell", "-v", "0", "-c", script, VAR_DIR=str(tmp_path), **PRODUCTION)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "True",
        "31536000",
        "True",
        "True",
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
    ]
