"""The HTTP client of HTTP tasks: urllib3 connection pools shared by a worker's threads.

HTTP tasks used `requests` sessions, one per thread. A request through `requests` cost
about twice the CPU of the same request through urllib3, which `requests` itself sends
with (docs/benchmarks.md), and a session kept the cookies every response set and sent
them with the next job's request to that host: one job's owner could read another's
session. This client sends exactly what the task says, plus:

- `User-Agent`, `Accept: */*` and `Accept-Encoding: gzip, deflate` (a compressed body is
  decoded), unless the task sets them;
- Basic credentials written in the URI (`user:password@host`), never the worker's
  `~/.netrc`; the URI is sent without them;
- the proxy named by the worker's environment (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`,
  `NO_PROXY` with names, domain suffixes and CIDR networks, either case; read once per
  worker process), with the credentials of the proxy URL as `Proxy-Authorization`;
  SOCKS proxies are not supported;
- certificates checked against `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE` if set (as with
  `requests`), else certifi's bundle.

Redirects are not followed and nothing is retried: the run's outcome is the response.

The request is sent on the run's own thread. `Client.stoppable(stop)` makes it
abortable: when the run's stop signal is set (from the heartbeat thread), the socket of
the connection the request holds is shut down, which ends a blocked connect, send or
read at once. A connection is attached to the request only while the request holds it:
it is detached before it goes back to the pool, so a late stop never reaches a
connection another run has taken since.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import socket
import threading
import urllib.request
from base64 import b64encode
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import unquote

import certifi
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import Url, parse_url

from .base import Stop

DEFAULT_HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate"}


def _bypass(host: str, port: int | None, proxies: dict[str, str]) -> bool:
    """NO_PROXY names the host (a domain suffix, host:port, `*`), or a network holding it."""
    if urllib.request.proxy_bypass_environment(f"{host}:{port}" if port else host, proxies):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return any(address in network for network in _networks(proxies.get("no", "")))


@functools.lru_cache(maxsize=4)
def _networks(no_proxy: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The CIDR entries of NO_PROXY (10.0.0.0/8), which urllib does not read."""
    networks = []
    for entry in no_proxy.split(","):
        if "/" in entry:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                continue
    return tuple(networks)


class ProxyNotSupported(urllib3.exceptions.HTTPError):
    pass


class _Call:
    """One stoppable request: the connection it holds, and whether it was stopped."""

    __slots__ = ("lock", "conn", "stopped")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.conn: HTTPConnection | None = None
        self.stopped = False

    def attach(self, conn: HTTPConnection) -> None:
        with self.lock:
            if self.stopped:
                raise ConnectionAbortedError("the run was stopped")
            self.conn = conn
            conn.sched_call = self

    def detach(self, conn: HTTPConnection | None = None) -> None:
        """Let go of `conn` (given back to the pool), or of whatever it holds (the request
        is over)."""
        with self.lock:
            if conn is None:
                self.stopped = True  # a late stop finds nothing to shut down
                conn = self.conn
            if conn is not None:
                if self.conn is conn:
                    self.conn = None
                conn.sched_call = None

    def abort(self) -> None:
        """Stop the request: shut its socket down (a connect under way ends by itself,
        then `_Stoppable.connect` raises)."""
        with self.lock:
            self.stopped = True
            sock = self.conn.sock if self.conn is not None else None
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


_local = threading.local()  # .call: the stoppable request this thread is sending


class _Stoppable:
    """Connection mixin: attach the connection to the thread's stoppable request."""

    sched_call: _Call | None = None

    def connect(self) -> None:
        call = getattr(_local, "call", None)
        if call is not None:
            call.attach(self)
        super().connect()
        if call is not None and call.stopped:
            raise ConnectionAbortedError("the run was stopped")

    def request(self, *args, **kwargs) -> None:
        call = getattr(_local, "call", None)
        if call is not None:
            call.attach(self)  # a kept-alive connection is not connected again
        super().request(*args, **kwargs)


class _HTTPConnection(_Stoppable, HTTPConnection):
    pass


class _HTTPSConnection(_Stoppable, HTTPSConnection):
    pass


class _PoolMixin:
    def _put_conn(self, conn) -> None:
        if conn is not None and conn.sched_call is not None:
            conn.sched_call.detach(conn)
        super()._put_conn(conn)


class _HTTPPool(_PoolMixin, HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(_PoolMixin, HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


def _basic(user_info: str) -> str:
    user, _, password = user_info.partition(":")
    return "Basic " + b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()


class Client:
    """Thread-safe: one per worker process. It reads the environment when it is made."""

    def __init__(self, max_per_host: int) -> None:
        self._proxies = urllib.request.getproxies_environment()  # {"http": url, "no": ...}
        ca_bundle = (
            os.environ.get("REQUESTS_CA_BUNDLE")
            or os.environ.get("CURL_CA_BUNDLE")
            or certifi.where()
        )
        self._options = {"num_pools": 100, "maxsize": max_per_host, "ca_certs": ca_bundle}
        self._direct = self._stoppable(urllib3.PoolManager(**self._options))
        self._proxied: dict[str, urllib3.ProxyManager] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _stoppable(manager: urllib3.PoolManager) -> urllib3.PoolManager:
        manager.pool_classes_by_scheme = _POOLS
        return manager

    @contextmanager
    def stoppable(self, stop: Stop) -> Iterator[None]:
        """Requests sent in the block (on this thread) end when `stop` is set: the call
        under way raises an OSError (or urllib3's error wrapping one)."""
        call = _Call()
        _local.call = call
        try:
            with stop.calling(call.abort):
                yield
        finally:
            _local.call = None
            call.detach()

    def request(
        self, method: str, uri: str, headers: dict[str, str], body: bytes | None, timeout: float
    ) -> urllib3.BaseHTTPResponse:
        """Send the request; the caller reads the body with `stream()` and closes it."""
        url = parse_url(uri)
        sent = urllib3.HTTPHeaderDict(DEFAULT_HEADERS)
        for name, value in headers.items():
            sent[name] = value  # replaces a header of the same name in any case
        if url.auth:
            sent["Authorization"] = _basic(url.auth)
            uri = url._replace(auth=None).url
        return self._manager_for(url).urlopen(
            method,
            uri,
            body=body,
            headers=sent,
            redirect=False,
            retries=False,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            preload_content=False,
            decode_content=True,
        )

    def _manager_for(self, url: Url) -> urllib3.PoolManager:
        proxy = self._proxies.get(url.scheme or "http") or self._proxies.get("all")
        if not proxy or _bypass(url.host or "", url.port, self._proxies):
            return self._direct
        with self._lock:
            manager = self._proxied.get(proxy)
            if manager is None:
                manager = self._proxied[proxy] = self._proxy_manager(proxy)
            return manager

    def _proxy_manager(self, proxy: str) -> urllib3.ProxyManager:
        url = parse_url(proxy if "://" in proxy else f"http://{proxy}")
        if url.scheme not in ("http", "https"):
            raise ProxyNotSupported(f"the proxy {url.scheme}://{url.host} is not http(s)")
        headers = {"Proxy-Authorization": _basic(url.auth)} if url.auth else None
        return self._stoppable(
            urllib3.ProxyManager(
                url._replace(auth=None).url, proxy_headers=headers, **self._options
            )
        )
