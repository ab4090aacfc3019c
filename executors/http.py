"""HTTP tasks: one request; success iff the status code is in `expected_range`."""

from __future__ import annotations

import os
import threading
import time
from concurrent import futures
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from rest_framework import serializers

from jobs.api.fields import AnyJSONField, DurationSecondsField, StrictSerializer
from jobs.models import RunStatus

from .base import Executor, Outcome, RunContext
from .expected_range import parse_expected_range

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DEFAULT_RANGE = "200-299"
USER_AGENT = "sched/1 (+job scheduler)"


def _validate_uri(value: str) -> str:
    try:
        parts = urlsplit(value)
        port = parts.port  # raises on a bad port
    except ValueError as exc:
        raise serializers.ValidationError(f"Not a valid URI: {exc}.") from None
    if parts.scheme not in ("http", "https"):
        raise serializers.ValidationError("Only http and https URIs are allowed.")
    if not parts.hostname or any(c.isspace() for c in value):
        raise serializers.ValidationError("Not a valid URI: it needs a host, and no spaces.")
    if port == 0:
        raise serializers.ValidationError("Not a valid URI: port 0.")
    return value


class HttpTaskSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=["http"], default="http")
    method = serializers.CharField(default="GET")
    uri = serializers.CharField(max_length=2048, validators=[_validate_uri])
    headers = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=8192), default=dict
    )
    body = AnyJSONField(default=None, allow_null=True)
    expected_range = AnyJSONField(default=DEFAULT_RANGE)
    timeout = DurationSecondsField(required=False)

    def validate_method(self, value: str) -> str:
        method = value.upper()
        if method not in METHODS:
            raise serializers.ValidationError(
                f"Unknown method {value!r}: use one of {', '.join(METHODS)}."
            )
        return method

    def validate_headers(self, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not name or any(c in name for c in " :\r\n\t") or not name.isascii():
                raise serializers.ValidationError(f"Invalid header name {name!r}.")
        for name, header in value.items():
            if "\r" in header or "\n" in header:
                raise serializers.ValidationError(f"Header {name!r} holds a line break.")
        return value

    def validate_expected_range(self, value: Any) -> str:
        try:
            return str(parse_expected_range(value))
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, instance):
        return instance


_local = threading.local()
_pool: futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _requests_pool() -> futures.ThreadPoolExecutor:
    """Threads that send the requests, reused so that their sessions keep connections."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = futures.ThreadPoolExecutor(
                max_workers=settings.SCHED["HTTP_MAX_IN_FLIGHT"], thread_name_prefix="http"
            )
        return _pool


# Proxy settings in the worker's environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY
# in either case), read once: requests otherwise reads the environment on every request.
_PROXY_ENV = any(
    name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy") for name in os.environ
)
_CA_BUNDLE = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """No credentials but the job's own headers: requests would otherwise add those of
    the worker's ~/.netrc for the job's host, and the job's owner reads the response."""
    return request


def _auth_of(uri: str):
    """Basic credentials written in the URI (user:password@host), or none at all."""
    user, password = requests.utils.get_auth_from_url(uri)
    return (user, password) if user or password else _no_auth


def _session() -> requests.Session:
    """One pooled session per worker thread.

    The environment is consulted once, at start-up: without proxy variables the session
    does not look at it again (a tenth of a request's CPU here), and a CA bundle named by
    REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE still applies.
    """
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
        session.trust_env = _PROXY_ENV
        if not _PROXY_ENV and _CA_BUNDLE:
            session.verify = _CA_BUNDLE
    return session


class HttpExecutor(Executor):
    type = "http"
    queue = "http"
    serializer_class = HttpTaskSerializer

    def run(self, context: RunContext) -> Outcome:
        """Send the request on the shared request pool; give up on it if told to stop."""
        future = _requests_pool().submit(self._send, context)
        while True:
            done, _ = futures.wait([future], timeout=0.05)
            if done:
                return future.result()
            if context.stop.is_set():
                # The request thread ends by itself, at the latest at its timeout.
                return Outcome(RunStatus.CANCELED, {}, "Stopped before the response came.")

    def _send(self, context: RunContext) -> Outcome:
        task = context.task
        timeout = task.get("timeout") or context.timeout or settings.SCHED["HTTP_DEFAULT_TIMEOUT"]
        headers = {"User-Agent": USER_AGENT, **task.get("headers", {})}
        headers.update(
            {
                "Idempotency-Key": context.idempotency_key,
                "X-Sched-Job-Id": context.job_id,
                "X-Sched-Run-Id": context.run_id,
                "X-Sched-Attempt": str(context.attempt),
            }
        )
        body = task.get("body")
        kwargs: dict[str, Any] = {}
        if isinstance(body, (dict, list)):
            kwargs["json"] = body
        elif isinstance(body, str):
            kwargs["data"] = body.encode()
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        elif body is not None:  # numbers and booleans are JSON too
            kwargs["json"] = body
        started = time.monotonic()
        try:
            response = _session().request(
                task["method"],
                task["uri"],
                headers=headers,
                timeout=timeout,
                stream=True,
                allow_redirects=False,
                auth=_auth_of(task["uri"]),
                **kwargs,
            )
            text, truncated = self._read_body(response, deadline=started + timeout)
        except requests.Timeout:
            return Outcome(
                RunStatus.TIMED_OUT,
                {"elapsed_ms": _ms_since(started)},
                f"No complete response within {timeout:g}s from {task['uri']}.",
            )
        except requests.RequestException as exc:
            return Outcome(
                RunStatus.FAILED,
                {"elapsed_ms": _ms_since(started)},
                f"Request to {task['uri']} failed: {_reason(exc)}",
            )
        result = {
            "status_code": response.status_code,
            "body": text,
            "body_truncated": truncated,
            "elapsed_ms": _ms_since(started),
        }
        expected = parse_expected_range(task.get("expected_range", DEFAULT_RANGE))
        if response.status_code in expected:
            return Outcome(RunStatus.SUCCEEDED, result)
        return Outcome(
            RunStatus.FAILED,
            result,
            f"Status {response.status_code} is outside the expected range {expected}.",
        )

    @staticmethod
    def _read_body(response: requests.Response, *, deadline: float) -> tuple[str, bool]:
        """Read at most HTTP_BODY_LIMIT bytes, within the deadline."""
        limit = settings.SCHED["HTTP_BODY_LIMIT"]
        chunks: list[bytes] = []
        size = 0
        truncated = False
        try:
            for chunk in response.iter_content(chunk_size=8192):
                if time.monotonic() > deadline:
                    raise requests.Timeout("body not complete before the deadline")
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    truncated = True
                    break
        finally:
            response.close()
        data = b"".join(chunks)[:limit]
        return data.decode(response.encoding or "utf-8", errors="replace"), truncated


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _reason(exc: requests.RequestException) -> str:
    """The innermost cause, without urllib3's object reprs."""
    cause: BaseException = exc
    while cause.__context__ is not None and not isinstance(cause, OSError):
        cause = cause.__context__
    if isinstance(exc, requests.ConnectionError):
        return f"connection error ({cause})"
    return str(exc)
