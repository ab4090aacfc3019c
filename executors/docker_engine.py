"""The container engine of docker tasks: a Docker Engine API client per worker thread.

The engine is settings.SCHED["DOCKER_HOST"] if set, else the SDK's default (the
DOCKER_HOST environment variable, else /var/run/docker.sock): Docker, or Podman's API
service. Shared by the executor (executors/docker.py) and the container janitor.
"""

from __future__ import annotations

import os
import socket
import threading

import docker
import requests
import urllib3
from django.conf import settings
from docker.errors import APIError, DockerException

API_TIMEOUT = 60  # seconds: an engine call with no answer this long is an error
DEFAULT_SOCKET = "unix:///var/run/docker.sock"


class EngineUnreachable(Exception):
    """The engine does not answer: the message says where it was looked for and why."""


_local = threading.local()


def engine_name() -> str:
    host = settings.SCHED.get("DOCKER_HOST") or ""
    return f"DOCKER_HOST={host}" if host else "the default engine (DOCKER_HOST is not set)"


def engine_client() -> docker.DockerClient:
    """One client per worker thread and engine address (it pools its connections)."""
    host = settings.SCHED.get("DOCKER_HOST") or ""
    clients: dict[str, docker.DockerClient] = _local.__dict__.setdefault("clients", {})
    client = clients.get(host)
    if client is None:
        _check_socket(host or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET)
        # from_env also reads DOCKER_TLS_VERIFY and DOCKER_CERT_PATH (a tcp:// engine).
        environment = {**os.environ, "DOCKER_HOST": host} if host else None
        try:
            client = docker.from_env(timeout=API_TIMEOUT, environment=environment)
        except DockerException as exc:
            raise EngineUnreachable(
                f"Cannot reach the container engine at {engine_name()}: {error_reason(exc)}"
            ) from None
        clients[host] = client
    return client


def _check_socket(address: str) -> None:
    """Fail early, with the reason, when nothing answers on a unix socket.

    (The SDK leaves its socket unclosed when the connection is refused.)
    """
    if not address.startswith("unix://"):
        return
    path = address.removeprefix("unix://")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        try:
            sock.connect(path)
        except OSError as exc:
            raise EngineUnreachable(
                f"Cannot reach the container engine at {engine_name()}: "
                f"{exc.strerror or exc} ({path})"
            ) from None


def forget_client() -> None:
    """Drop this thread's client for the engine (after a connection error)."""
    host = settings.SCHED.get("DOCKER_HOST") or ""
    client = getattr(_local, "clients", {}).pop(host, None)
    if client is not None:
        client.close()


def close_clients() -> None:
    """Close this thread's engine clients (tests; a worker keeps them for its life)."""
    for client in getattr(_local, "clients", {}).values():
        client.close()
    _local.__dict__.pop("clients", None)


def error_reason(exc: BaseException) -> str:
    """A short reason for an engine error, for a run's error and the logs."""
    if isinstance(exc, APIError) and exc.explanation:
        return str(exc.explanation)
    text = str(exc)
    # "Error while fetching server API version: ('Connection aborted.', FileNotFoundError(..."
    return text.removeprefix("Error while fetching server API version: ")


def is_read_timeout(exc: BaseException) -> bool:
    """Did the engine answer nothing within API_TIMEOUT (not a refused connection)?"""
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return True
    return any(isinstance(arg, urllib3.exceptions.ReadTimeoutError) for arg in exc.args)
