"""Webhook signatures, as Stripe and Slack sign: HMAC-SHA256 over "<timestamp>.<body>".

Header `X-Sched-Signature: t=<unix seconds>,v1=<hex digest>`. A receiver recomputes the
digest with the channel's secret, compares in constant time, and refuses a timestamp far
from its clock (replays). Pure: no Django here.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Sched-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header's value for `body` sent at `timestamp`."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.digest(secret.encode(), signed, hashlib.sha256).hex()  # one-shot, in C
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """Whether `header` signs `body` with `secret`, at most `tolerance` seconds from `now`."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).rpartition("v1=")[2]
    return hmac.compare_digest(expected, parts.get("v1", ""))
