"""Request rates are shared by every web process and host (Redis), not kept per process."""

from __future__ import annotations

import pytest
import requests

from . import harness

pytestmark = pytest.mark.e2e

RATE = 8  # per day: the window never turns over during the test


def _web(stack, name: str, port: int, **rates: str) -> harness.Process:
    """The web process as the Procfile runs it, one worker, with its own rates."""
    env = {**stack.env, "API_THROTTLE_USER": f"{RATE}/day", "API_THROTTLE_ANON": "off", **rates}
    argv = harness.web_argv(f"127.0.0.1:{port}", workers=1)
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


def _answers(url: str, ok: tuple[int, ...] = (200,)) -> bool:
    try:
        return requests.get(url, timeout=2).status_code in ok
    except requests.RequestException:
        return False


def test_a_forged_x_forwarded_for_does_not_make_a_new_anonymous_client(e2e_stack):
    """The server takes the client's address from the connection, never from a header,
    unless PROXY_COUNT says proxies add it: a client on loopback cannot rotate addresses."""
    port = harness.free_port()
    host = f"http://127.0.0.1:{port}"
    _web(e2e_stack, "web-forged-xff", port, API_THROTTLE_ANON=f"{RATE}/day")
    try:
        harness.wait_until(
            lambda: _answers(f"{host}/api/v1/schema", ok=(200, 429)),
            timeout=60,
            interval=0.2,
            what=f"{host} to answer",
        )
        answers = [
            requests.get(
                f"{host}/api/v1/health",
                headers={"X-Forwarded-For": f"203.0.113.{i}", "X-Real-IP": f"198.51.100.{i}"},
                timeout=10,
            ).status_code
            for i in range(2 * RATE)
        ]
        assert answers.count(429) >= RATE, answers
    finally:
        e2e_stack.stop_extra("web-forged-xff")
