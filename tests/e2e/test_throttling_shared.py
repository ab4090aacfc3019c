"""Request rates are shared by every web process and host (Redis), not kept per process."""

from __future__ import annotations

import pytest
import requests

from . import harness

pytestmark = pytest.mark.e2e

RATE = 8  # per day: the window never turns over during the test


def _web(stack, name: str, port: int) -> harness.Process:
    env = {**stack.env, "API_THROTTLE_USER": f"{RATE}/day", "API_THROTTLE_ANON": "off"}
    argv = [
        str(harness.VENV_BIN / "gunicorn"),
        "schedsite.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--control-socket",
        str(stack.workdir / f"{name}.ctl"),
    ]
    process = harness.Process(
        name, argv, env=env, cwd=harness.ROOT, log=stack.workdir / f"{name}.log"
    )
    stack.extra[name] = process  # stopped by the stack if the test fails first
    return process


def test_two_web_hosts_count_one_users_requests_together(e2e_stack):
    ports = [harness.free_port(), harness.free_port()]
    hosts = [f"http://127.0.0.1:{port}" for port in ports]
    names = ["web-throttle-a", "web-throttle-b"]
    for name, port in zip(names, ports, strict=True):
        _web(e2e_stack, name, port)
    try:
        for host in hosts:
            harness.wait_until(
                lambda host=host: _answers(f"{host}/api/v1/health"),
                timeout=60,
                interval=0.2,
                what=f"{host} to answer",
            )
        headers = {"Authorization": f"Token {e2e_stack.tokens['bob']}"}
        answers = [
            requests.get(f"{hosts[i % 2]}/api/v1/jobs", headers=headers, timeout=10)
            for i in range(2 * RATE)
        ]
        assert [a.status_code for a in answers] == [200] * RATE + [429] * RATE
        assert all(int(a.headers["Retry-After"]) >= 1 for a in answers[RATE:])
        assert answers[-1].json()["detail"].startswith("Request was throttled.")
    finally:
        for name in names:
            e2e_stack.stop_extra(name)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False
