"""Send one notification on its channel: a signed webhook, a Slack message, an email.

Webhooks and Slack go through the HTTP client of HTTP tasks (executors/http_client.py)
and the same egress policy as the channel owner's HTTP jobs: a channel is a way to make
the workers send a request, so it may reach what its owner's jobs may reach, no more.
Email goes through Django's email backend to the SMTP server of the settings.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from executors.base import Stop
from executors.http import USER_AGENT, restricted_policy, shared_client
from executors.http_client import EgressRefused, RequestError
from jobs.owners import egress_unrestricted

from .models import Channel, ChannelKind
from .payloads import summary
from .signing import HEADER, signature

_RESPONSE_LIMIT = 4096  # bytes of a receiver's answer kept for the error


@dataclass(frozen=True)
class Attempt:
    delivered: bool
    status_code: int | None = None
    error: str = ""
    # Trying again cannot help (the address is refused): give up at once.
    final: bool = False


def send(channel: Channel, body: dict, key: str, *, timeout: float | None = None) -> Attempt:
    """One attempt; the receiver has `timeout` seconds (default NOTIFY_TIMEOUT) to answer."""
    timeout = timeout or settings.SCHED["NOTIFY_TIMEOUT"]
    if channel.kind == ChannelKind.EMAIL:
        return _email(channel, body, timeout)
    if channel.kind == ChannelKind.SLACK:
        text = summary(body)[1]
        return _post(channel, json.dumps({"text": text}).encode(), body["event"], key, timeout)
    # Sorted keys: the body comes back from jsonb in another order, and every attempt of
    # one notification sends the same bytes.
    data = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    return _post(channel, data, body["event"], key, timeout)


def _post(channel: Channel, data: bytes, event: str, key: str, timeout: float) -> Attempt:
    headers = {
        "User-Agent": USER_AGENT,
        "Content-Type": "application/json",
        "X-Sched-Event": event,
        "Idempotency-Key": key,
    }
    if channel.kind == ChannelKind.WEBHOOK and channel.secret:
        headers[HEADER] = signature(channel.secret, int(time.time()), data)
    policy = None if egress_unrestricted(channel.owner_id) else restricted_policy()
    try:
        response = shared_client().send(
            "POST",
            channel.url,
            headers,
            data,
            timeout=timeout,
            limit=_RESPONSE_LIMIT,
            stop=Stop(),
            policy=policy,
        )
    except EgressRefused as exc:
        return Attempt(False, error=f"Refused: {exc.reason}", final=True)
    except RequestError as exc:
        return Attempt(False, error=exc.reason)
    if 200 <= response.status < 300:
        return Attempt(True, response.status)
    answer = response.body[:300].decode("utf-8", errors="replace")
    return Attempt(False, response.status, f"The receiver answered {response.status}: {answer}")


def _email(channel: Channel, body: dict, timeout: float) -> Attempt:
    subject, text = summary(body)
    message = EmailMessage(
        subject=subject,
        body=text,
        to=list(channel.to),
        # Every attempt of one notification carries the same Message-ID: mail systems and
        # readers that drop repeats by it see one message.
        headers={
            "Message-ID": f"<{body['id']}@sched>",
            "X-Sched-Event": body["event"],
            "Idempotency-Key": body["id"],
        },
        connection=get_connection(timeout=timeout),
    )
    try:
        message.send()
    except Exception as exc:  # SMTP errors, refused connections, time-outs
        return Attempt(False, error=f"Email not sent: {type(exc).__name__}: {exc}")
    return Attempt(True)
