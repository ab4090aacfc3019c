"""HTTP tasks: one request; success iff the status code is in `expected_range`."""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from requests.utils import get_encoding_from_headers  # requests' rules, kept as they were
from rest_framework import serializers

from jobs.fields import AnyJSONField, CachedFieldsMixin, DurationSecondsField, StrictSerializer
from jobs.states import RunStatus

from . import egress
from .base import Executor, Outcome, RunContext
from .expected_range import parse_expected_range
from .http_client import Client, RequestError
from .outcomes import ms_since

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DEFAULT_RANGE = "200-299"
USER_AGENT = "sched/1 (+job scheduler)"


# A header name is an RFC 9110 token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# A value is sent as latin-1 bytes: no control character but tab, nothing past U+00FF.
_BAD_VALUE = re.compile(r"[^\t\x20-\x7e\x80-\xff]")
# Headers that frame the message or belong to one connection: the client sets them, and a
# task's own could smuggle a second request past the target's front server.
_FRAMING = frozenset(
    ("content-length", "transfer-encoding", "connection", "te", "upgrade", "keep-alive", "trailer")
)


def validate_uri(value: str) -> str:
    """An http or https URI with a host (HTTP tasks; webhook and Slack channels)."""
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


class HttpTaskSerializer(CachedFieldsMixin, StrictSerializer):
    type = serializers.ChoiceField(choices=["http"], default="http")
    method = serializers.CharField(default="GET")
    uri = serializers.CharField(max_length=2048, validators=[validate_uri])
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
        for name, header in value.items():
            if not _TOKEN.fullmatch(name):
                raise serializers.ValidationError(
                    f"Invalid header name {name!r}: letters, digits and !#$%&'*+-.^_`|~ only."
                )
            lower = name.lower()
            if lower in _FRAMING or lower.startswith("proxy-"):
                raise serializers.ValidationError(
                    f"Header {name!r} may not be set: the client sets the framing and "
                    "connection headers itself."
                )
            if lower == "host" and not settings.SCHED["HTTP_ALLOW_HOST_HEADER"]:
                raise serializers.ValidationError(
                    f"Header {name!r} may not be set: the host is the URI's "
                    "(HTTP_ALLOW_HOST_HEADER allows it)."
                )
            if "\r" in header or "\n" in header:
                raise serializers.ValidationError(f"Header {name!r} holds a line break.")
            bad = _BAD_VALUE.search(header)
            if bad:
                raise serializers.ValidationError(
                    f"Header {name!r} holds U+{ord(bad.group()):04X}: a header value is "
                    "latin-1 text without control characters (encode other text, e.g. "
                    "percent-encoding)."
                )
        return value

    def validate_expected_range(self, value: Any) -> str:
        try:
            return str(parse_expected_range(value))
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, instance):
        return instance


_client_lock = threading.Lock()


_client: Client | None = None


def shared_client() -> Client:
    global _client
    with _client_lock:
        if _client is None:
            _client = Client()
        return _client


class HttpExecutor(Executor):
    type = "http"
    queue = "http"
    serializer_class = HttpTaskSerializer

    def permission_denied(self, task: dict[str, Any], user) -> str | None:
        """A URI whose host is an address the egress policy denies `user` is refused at
        once, as a 400 on `task.uri` (the field to change). Names are only checked when
        a run connects: what they resolve to then is what counts."""
        reason = super().permission_denied(task, user)
        if reason:
            return reason
        refusal = restricted_policy().host_refusal(urlsplit(task["uri"]).hostname or "")
        # The permission is looked up last: it costs the request two queries, and most
        # URIs name a host, not a denied address.
        if refusal is not None and not user.has_perm("jobs.unrestricted_egress"):
            raise serializers.ValidationError({"uri": [f"{refusal[0].upper()}{refusal[1:]}."]})
        return None

    def run(self, context: RunContext) -> Outcome:
        """Send the request on this thread; a stop signal aborts it (its sockets are shut)."""
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
        body = _encode_body(task.get("body"), headers)
        started = time.monotonic()
        try:
            response = shared_client().send(
                task["method"],
                task["uri"],
                headers,
                body,
                timeout=timeout,
                limit=settings.SCHED["HTTP_BODY_LIMIT"],
                stop=context.stop,
                policy=egress_policy(context),
            )
        except RequestError as exc:
            if context.stop.is_set():
                return Outcome(RunStatus.CANCELED, {}, "Stopped before the response came.")
            if exc.timed_out:
                return Outcome(
                    RunStatus.TIMED_OUT,
                    {"elapsed_ms": ms_since(started)},
                    f"No complete response within {timeout:g}s from {shown_uri(task['uri'])}.",
                )
            return Outcome(
                RunStatus.FAILED,
                {"elapsed_ms": ms_since(started)},
                f"Request to {shown_uri(task['uri'])} failed: {exc.reason}",
            )
        encoding = get_encoding_from_headers(response.headers) or "utf-8"
        result = {
            "status_code": response.status,
            "body": response.body.decode(encoding, errors="replace"),
            "body_truncated": response.truncated,
            "elapsed_ms": ms_since(started),
        }
        expected = parse_expected_range(task.get("expected_range", DEFAULT_RANGE))
        if response.status in expected:
            return Outcome(RunStatus.SUCCEEDED, result)
        return Outcome(
            RunStatus.FAILED,
            result,
            f"Status {response.status} is outside the expected range {expected}.",
        )


def egress_policy(context: RunContext) -> egress.Policy | None:
    """The egress policy of this run's requests: None when its owner may reach anything."""
    return None if context.egress_unrestricted else restricted_policy()


_policy_of: tuple[object, egress.Policy | None] = (None, None)  # (settings.SCHED, its policy)


def restricted_policy() -> egress.Policy:
    """The policy of the settings, looked up again only when settings.SCHED is replaced."""
    global _policy_of
    sched = settings.SCHED
    known, policy = _policy_of
    if known is not sched or policy is None:
        policy = egress.policy(
            tuple(sched["EGRESS_ALLOW"]), tuple(sched["EGRESS_DENY"]), sched["EGRESS_DENY_PRIVATE"]
        )
        _policy_of = (sched, policy)
    return policy


def shown_uri(uri: str) -> str:
    """The URI as a run's error shows it: credentials (`user:password@`) left out, since
    errors reach logs, the admin and whoever may read the run."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _encode_body(body: Any, headers: dict[str, str]) -> bytes | None:
    """An object, array, number or boolean is sent as JSON; a string as it is."""
    if body is None:
        return None
    names = {name.lower() for name in headers}
    if isinstance(body, str):
        if "content-type" not in names:
            headers["Content-Type"] = "text/plain; charset=utf-8"
        return body.encode()
    if "content-type" not in names:
        headers["Content-Type"] = "application/json"
    return json.dumps(body, allow_nan=False).encode()
