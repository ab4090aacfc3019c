"""The `Idempotency-Key` header of a job create, read and checked (jobs/idempotency.py)."""

from __future__ import annotations

import re

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from jobs import idempotency
from jobs.idempotency import HEADER, MAX_KEY_LENGTH

# Printable ASCII (a UUID, a hash, "order-42/retry"), no space at either end: what every
# client and proxy passes through unchanged. Other bytes are a 400, not a key.
_KEY = re.compile(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?")
REPLAYED_HEADER = "Idempotent-Replayed"

PARAMETER = OpenApiParameter(
    HEADER,
    {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_LENGTH,
        "pattern": r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$",
    },
    OpenApiParameter.HEADER,
    description=(
        f"Makes the create safe to retry: the same key with the same body within "
        f"{idempotency.KEEP_FOR.days * 24} h answers the job created the first time "
        f"(with `{REPLAYED_HEADER}: true`); the same key with another body is a 422. "
        f"1-{MAX_KEY_LENGTH} printable ASCII characters, e.g. a UUID."
    ),
)


def request_key(request) -> dict[str, str] | None:
    """`key` and `fingerprint` of the request's Idempotency-Key, None without the header;
    a 400 naming the header when the key is not one."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not key:
        raise _bad("Empty: send 1 to 255 printable ASCII characters, e.g. a UUID.")
    if len(key) > MAX_KEY_LENGTH:
        raise _bad(f"{len(key)} characters: at most {MAX_KEY_LENGTH}.")
    if not _KEY.fullmatch(key):
        raise _bad(
            "Only printable ASCII characters (no control characters, no space at either end)."
        )
    body = request.data
    if hasattr(body, "lists"):  # a form (the browsable API): a QueryDict
        body = dict(body.lists())
    return {
        "key": key,
        "fingerprint": idempotency.fingerprint(method=request.method, path=request.path, body=body),
    }


def _bad(problem: str) -> serializers.ValidationError:
    return serializers.ValidationError({HEADER: [problem]})
