"""The REST API over HTTP: kept-alive connections shared by threads, errors naming fields.

Nothing here knows the server's code: only its URLs and JSON (docs/api.md).
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from json import dumps, loads
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import click
import urllib3

from . import __version__
from .transport import RETRIES, RETRIES_IDEMPOTENT, pool_for

PAGE_SIZE = 500  # the API's largest page (API_MAX_PAGE_SIZE)
# Answers that mean "not done, try again later": the rate limit, a busy or restarting
# server. Nothing was written, so the same request is sent again after Retry-After.
RETRY_STATUSES = (429, 503)
MAX_WAIT = 60.0  # seconds: the longest Retry-After followed
CONNECTIONS = 64  # kept-alive connections at most (apply's --workers is at most 64)
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


class ApiError(click.ClickException):
    """An answer of 4xx or 5xx: its status and each message with the field it names."""

    def __init__(self, status: int, body: Any, method: str, url: str):
        self.status, self.body, self.method, self.url = status, body, method, url
        super().__init__(self.describe())

    def messages(self) -> list[str]:
        """`task.uri: Not a valid URI`, one per message; a body-level one as is."""
        return flatten_errors(self.body)

    def describe(self) -> str:
        path = urlsplit(self.url).path
        head = {
            400: f"the server refused {self.method} {path} (400)",
            401: "the server refused the credentials (401): check SCHED_TOKEN or run `sched login`",
            403: f"not permitted: {self.method} {path} (403)",
            404: f"not found: {self.method} {path} (404)",
            409: f"conflict: {self.method} {path} (409)",
            413: f"too large: {self.method} {path} (413)",
            429: "too many requests (429), still after waiting as the server asked",
        }.get(self.status, f"{self.method} {path}: the server answered {self.status}")
        lines = [line for line in self.messages() if line != "Not found."]
        return head + "".join(f"\n  {line}" for line in lines)


class Unreachable(click.ClickException):
    """No answer: the URL is wrong, the server is down, or the network is."""


def flatten_errors(body: Any, path: str = "") -> list[str]:
    """DRF's nested errors as lines, each prefixed with its field path."""
    if isinstance(body, dict):
        lines = []
        for key, value in body.items():
            sub = path if key in ("detail", "non_field_errors") else f"{path}.{key}".lstrip(".")
            lines.extend(flatten_errors(value, sub))
        return lines
    if isinstance(body, list):
        if all(isinstance(item, str) for item in body):
            return [f"{path}: {item}" if path else item for item in body]
        lines = []
        for index, item in enumerate(body):
            lines.extend(flatten_errors(item, f"{path}.{index}".lstrip(".")))
        return lines
    if body is None or body == "":
        return []
    return [f"{path}: {body}" if path else str(body)]


def ns_path(product: str, group: str) -> str:
    """The namespaced jobs route of a product and group."""
    return f"/api/v1/products/{quote(product, safe='')}/groups/{quote(group, safe='')}/jobs"


class Client:
    """Calls to the API at `url` with `token`; safe to share between threads."""

    def __init__(self, url: str, token: str, *, url_source: str = "", timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.token = token
        self.url_source = url_source
        self.timeout = timeout
        self.calls: Counter[str] = Counter()  # by method: how many requests were sent
        self._lock = threading.Lock()
        self._pool = pool_for(self.url, connections=CONNECTIONS, timeout=timeout)
        self._headers = {
            "Authorization": f"Token {token}",
            "Accept": "application/json",
            "User-Agent": f"sched-cli/{__version__}",
        }

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """The answer's JSON (None when empty); ApiError for 4xx/5xx, Unreachable if none."""
        url = path if path.startswith("http") else self.url + path
        if params:
            url += "?" + urlencode(
                {key: value for key, value in params.items() if value is not None}, doseq=True
            )
        sent = {**self._headers, **(headers or {})}
        retries = RETRIES_IDEMPOTENT if "Idempotency-Key" in sent else RETRIES
        body = None
        if json is not None:
            body = dumps(json, ensure_ascii=False).encode("utf-8")
            sent["Content-Type"] = "application/json"
        for attempt in range(6):
            with self._lock:
                self.calls[method] += 1
            try:
                response = self._pool.request(method, url, body=body, headers=sent, retries=retries)
            except urllib3.exceptions.HTTPError as exc:
                raise self._unreachable(exc) from None
            if response.status in RETRY_STATUSES and attempt < 5:
                time.sleep(_retry_after(response, attempt))
                continue
            return _answer(response, method, url)
        raise AssertionError("unreachable")  # pragma: no cover

    def _unreachable(self, exc: Exception) -> Unreachable:
        reason = getattr(exc, "reason", None) or exc
        refused = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.NameResolutionError)
        # urllib3's NewConnectionError is a kind of timeout error: a refusal is not one.
        if isinstance(reason, urllib3.exceptions.TimeoutError) and not isinstance(reason, refused):
            return Unreachable(
                f"no answer from {self.url}{self._source()} within {self.timeout:g} s"
            )
        match = _ERRNO.search(str(reason))
        text = match.group(1).strip() if match else str(reason)
        return Unreachable(f"cannot connect to {self.url}{self._source()}: {text}")

    def _source(self) -> str:
        return f" (from {self.url_source})" if self.url_source else ""

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.request("POST", path, json=json, headers=headers)

    def create(self, path: str, json: Any) -> Any:
        """POST a new job with an Idempotency-Key: a failure in between is sent again and
        still makes one job."""
        return self.post(path, json, headers={"Idempotency-Key": str(uuid.uuid4())})

    def patch(self, path: str, json: Any) -> Any:
        return self.request("PATCH", path, json=json)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict]:
        """Every item of a paginated list, following `next` (the largest pages)."""
        query: Any = {"limit": PAGE_SIZE, **(params or {})}
        while path:
            page = self.request("GET", path, params=query)
            yield from page["results"]
            path, query = page.get("next"), None

    def every(self, path: str, params: dict[str, Any], pool: ThreadPoolExecutor) -> list[dict]:
        """Every item of a list that nothing writes meanwhile: the first page says how many,
        the other pages are asked for at once on `pool` (by offset)."""
        first = self.request("GET", path, params={**params, "limit": PAGE_SIZE})
        offsets = range(PAGE_SIZE, first["count"], PAGE_SIZE)
        rest = pool.map(
            lambda offset: self.request(
                "GET", path, params={**params, "limit": PAGE_SIZE, "offset": offset}
            )["results"],
            offsets,
        )
        return [*first["results"], *(item for page in rest for item in page)]


def _retry_after(response: urllib3.BaseHTTPResponse, attempt: int) -> float:
    try:
        wait = float(response.headers.get("Retry-After", ""))
    except ValueError:
        wait = 2.0**attempt / 4
    return min(max(wait, 0.0), MAX_WAIT)


def _answer(response: urllib3.BaseHTTPResponse, method: str, url: str) -> Any:
    data = response.data
    try:
        body = loads(data) if data else None
    except ValueError:
        body = data.decode("utf-8", "replace").strip()[:500]
    if response.status >= 400:
        raise ApiError(response.status, body, method, url)
    return body
