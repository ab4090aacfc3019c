"""API request rates (fair use): per user, per anonymous IP, and for job creates.

Rates come from settings.API_THROTTLE_RATES, read at each request (tests change them),
in DRF's format "<count>/<period>" (s, min, hour, day); None turns one off.

Each rate is a fixed window counted in Django's default cache (Redis, shared by every web
process and host): one atomic INCR per request and window, where DRF's own throttles keep
a list of timestamps per client (a read and a rewrite of the whole list per request, and
two processes can both read it before either writes, losing counts). A window starts at
an offset of its own per client, so clients' windows do not all turn over at once; a
client can send up to twice its rate across a window boundary.

If the cache cannot be reached, requests are let through (fail open) with a warning in
the log, and the cache is not asked again for CACHE_RETRY seconds: the API keeps working
without its throttles rather than answering 500 or waiting on a dead Redis.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import zlib

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import BaseThrottle

from .client_ip import client_ip

log = logging.getLogger(__name__)

CACHE_RETRY = 5.0  # seconds the cache is left alone after it failed
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_cache_down_until = 0.0


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """Requests allowed per period of seconds ("100/min": 100, 60); None: no limit."""
    if rate is None:
        return None
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[0]]


def _count(key: str, period: int) -> int:
    """Count one request in `key`. The key outlives its window (never counted again: the
    next window has its own key), so clocks a little apart between hosts never count into
    an expired key."""
    client = _redis()
    if client is None:  # another cache (one machine, tests): its own increment
        try:
            return cache.incr(key)
        except ValueError:  # the window's first request
            cache.add(key, 0, timeout=2 * period)
            return cache.incr(key)
    # Redis: create-if-absent and increment in one round trip (Django's incr makes a
    # client and asks EXISTS first: two round trips and a third of a create's throttle).
    pipe = client.pipeline(transaction=False)
    pipe.set(cache.make_and_validate_key(key), 0, ex=2 * period, nx=True)
    pipe.incr(cache.make_and_validate_key(key))
    return pipe.execute()[1]


_clients = threading.local()


def _redis():
    """A redis-py client on the default cache's connection pool, made once per thread and
    cache (Django makes one per operation); None if the cache is not Redis."""
    backend = caches["default"]  # this thread's: a new one when the settings change
    made = getattr(_clients, "made", None)
    if made is None or made[0] is not backend:
        client = backend._cache.get_client(write=True) if isinstance(backend, RedisCache) else None
        made = _clients.made = (backend, client)
    return made[1]


def _hit(key: str, period: int) -> int | None:
    """Count one request in `key`; the count so far, or None when the cache is down."""
    global _cache_down_until
    if time.monotonic() < _cache_down_until:
        return None
    try:
        return _count(key, period)
    except Exception as exc:
        _cache_down_until = time.monotonic() + CACHE_RETRY
        log.warning(
            "throttle: the cache is unavailable, requests are not throttled for %g s: %s: %s",
            CACHE_RETRY,
            exc.__class__.__name__,
            exc,
        )
        return None


class RateThrottle(BaseThrottle):
    """A fixed-window count per client of one scope; subclasses say who the client is."""

    scope = ""

    def __init__(self) -> None:
        self._wait = 0.0

    def client(self, request, view) -> str | None:
        """Who is counted, or None when this throttle does not apply to the request."""
        raise NotImplementedError

    def rate(self, request) -> str | None:
        return settings.API_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        client = self.client(request, view)
        parsed = None if client is None else parse_rate(self.rate(request))
        if parsed is None:
            return True
        limit, period = parsed
        key = f"throttle:{self.scope}:{client}"
        shifted = time.time() + zlib.crc32(key.encode()) % period
        count = _hit(f"{key}:{int(shifted // period)}", period)
        self._wait = period - shifted % period
        return count is None or count <= limit

    def wait(self) -> float:
        return math.ceil(self._wait)  # Retry-After is whole seconds: never too early


class UserThrottle(RateThrottle):
    """Every request of an authenticated user."""

    scope = "user"

    def client(self, request, view) -> str | None:
        user = request.user
        return str(user.pk) if user and user.is_authenticated else None


class AnonThrottle(RateThrottle):
    """Anonymous requests (health, schema, docs), per client IP."""

    scope = "anon"

    def client(self, request, view) -> str | None:
        user = request.user
        return None if user and user.is_authenticated else client_ip(request)


def is_trusted_client(user) -> bool:
    return user.is_superuser or user.has_perm("jobs.trusted_client")


class JobCreateThrottle(RateThrottle):
    """Job creates, per user: a higher rate for trusted clients (jobs.trusted_client)."""

    scope = "create"

    def client(self, request, view) -> str | None:
        return UserThrottle().client(request, view)

    def rate(self, request) -> str | None:
        rates = settings.API_THROTTLE_RATES
        if rates["create"] == rates["create_trusted"]:  # e.g. both off: no permission lookup
            return rates["create"]
        return rates["create_trusted"] if is_trusted_client(request.user) else rates["create"]


class ChannelTestThrottle(RateThrottle):
    """Test messages (POST /channels/{id}/test), per user: each makes the server send a
    request or an email at once, so they are counted apart, at a low rate."""

    scope = "channel_test"

    def client(self, request, view) -> str | None:
        return UserThrottle().client(request, view)
