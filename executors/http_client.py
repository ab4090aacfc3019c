"""The HTTP client of HTTP tasks: libcurl (pycurl), one handle per worker thread.

libcurl sends and waits without the GIL, which a worker's threads share, at a fraction of
urllib3's CPU per request (docs/design.md, docs/benchmarks.md, `python -m
bench.http_client`). Each thread keeps its own handle and, in it, its kept-alive
connections. This client
sends exactly what the task says, plus:

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

Every connection a request makes directly (not through a proxy) is checked against the
run's egress policy (executors/egress.py) after the name is resolved, on the address libcurl
is about to connect to (OPENSOCKETFUNCTION): a refused address gets no socket, not even a
connection attempt, and a name that resolves to a denied address, now or at a later look-up,
is refused alike. A proxied request connects to the proxy, which the operator chose: only a
target written as an address is checked then; the proxy's own rules rule the names. A thread
keeps a handle per policy, so a connection kept alive for a run that may reach an address
is never reused by a run that may not.

Redirects are not followed, nothing is retried and no cookie is kept: the run's outcome
is the response. At most `limit` bytes of the body are kept (`truncated` says if there
was more), and the whole exchange must end within the timeout.

A stop ends the request under way at once: the run's `Stop` signal (set from the
heartbeat thread) shuts down the sockets of the thread's handle, which ends a blocked
connect, send or wait. A handle serves one thread, hence one request at a time, so a
stop never reaches another run's request; its idle kept-alive connections are closed
with it, and the next request connects again.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import socket
import threading
import urllib.request
from dataclasses import dataclass

import certifi
import pycurl
from urllib3.util import parse_url

from .base import Stop
from .egress import Policy

DEFAULT_HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate"}
# Methods that carry a body: without one they still send `Content-Length: 0`, as
# http.client does (some servers wait for a length).
_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))


class RequestError(Exception):
    """The request got no (complete) response: `reason` says why."""

    def __init__(self, reason: str, *, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out


class ProxyNotSupported(RequestError):
    pass


class EgressRefused(RequestError):
    """The egress policy refused every address of the target: nothing was sent."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # of the final response; lower-case names
    body: bytes  # decoded (gzip, deflate), at most `limit` bytes
    truncated: bool


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


class _Handle:
    """A thread's libcurl handle, and the sockets it has open (to shut them on a stop)."""

    def __init__(self, policy: Policy | None) -> None:
        self.curl = pycurl.Curl()
        self.pid = os.getpid()
        self.policy = policy  # None: any address
        self.refusals: list[str] = []  # the policy's, during the request under way
        self.given: list[socket.socket] = []  # made for libcurl, which took duplicates
        self.connected = 0  # addresses the policy let libcurl connect to, this request
        self.lock = threading.Lock()
        self.sockets: set[int] = set()
        self.stopped = False
        self.sent = 0  # requests begun on this handle
        self.request = 0  # the number of the request under way; 0: none

    def opened(self, fd: int, purpose: int) -> int:
        """libcurl made a socket (SOCKOPTFUNCTION): keep it, unless the run was stopped."""
        self.drop_given()
        with self.lock:
            if self.stopped:
                return pycurl.SOCKOPT_ERROR
            self.sockets.add(fd)
        return pycurl.SOCKOPT_OK

    def drop_given(self) -> None:
        """Close the sockets open_socket made: libcurl works on its own duplicates."""
        while self.given:
            self.given.pop().close()

    def open_socket(self, purpose: int, address) -> socket.socket | int:
        """libcurl is about to connect to `address` (OPENSOCKETFUNCTION): a socket if the
        policy allows it (libcurl takes a duplicate of it), else no socket at all."""
        refusal = self.policy.refusal(address.addr[0]) if self.policy is not None else None
        if refusal is not None:
            self.refusals.append(refusal)
            return pycurl.SOCKET_BAD
        sock = socket.socket(address.family, address.socktype, address.protocol)
        self.given.append(sock)
        self.connected += 1
        return sock

    def close(self, fd: int) -> int:
        """libcurl is done with a socket (CLOSESOCKETFUNCTION): close it here, under the lock,
        so that a stop never shuts a number the system has given to another socket."""
        with self.lock:
            self.sockets.discard(fd)
            os.close(fd)
        return 0

    def begin(self) -> int:
        with self.lock:
            self.sent += 1
            self.request = self.sent
            self.stopped = False
            self.refusals = []
            self.connected = 0
            return self.request

    def end(self) -> None:
        self.drop_given()
        with self.lock:
            self.request = 0

    def abort(self, request: int) -> None:
        """Stop request number `request`: a stop that comes after it ended (its callback
        already running then) finds another number, or none, and does nothing."""
        with self.lock:
            if request != self.request:
                return
            self.stopped = True
            for fd in self.sockets:
                try:
                    with socket.socket(fileno=os.dup(fd)) as sock:
                        sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _Exchange:
    """What one request collects: the body up to its limit, the final response's headers."""

    __slots__ = ("limit", "chunks", "size", "truncated", "header_lines")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: list[bytes] = []
        self.size = 0
        self.truncated = False
        self.header_lines: list[bytes] = []

    def write(self, data: bytes) -> int | None:
        room = self.limit - self.size
        if len(data) > room:
            self.chunks.append(data[:room])
            self.size = self.limit
            self.truncated = True
            return 0  # libcurl stops reading: CURLE_WRITE_ERROR, known as truncated
        self.chunks.append(data)
        self.size += len(data)
        return None

    def header(self, line: bytes) -> None:
        if line.startswith(b"HTTP/"):  # a new response (after 100 Continue, a CONNECT)
            self.header_lines = []
        self.header_lines.append(line)

    def headers(self) -> dict[str, str]:
        found = {}
        for line in self.header_lines[1:]:
            name, sep, value = line.decode("latin-1").partition(":")
            if sep:
                found[name.strip().lower()] = value.strip()
        return found


class Client:
    """Thread-safe: one per worker process. It reads the environment when it is made."""

    def __init__(self) -> None:
        self._proxies = urllib.request.getproxies_environment()  # {"http": url, "no": ...}
        self._ca_bundle = (
            os.environ.get("REQUESTS_CA_BUNDLE")
            or os.environ.get("CURL_CA_BUNDLE")
            or certifi.where()
        )
        self._local = threading.local()

    def _handle(self, policy: Policy | None = None) -> _Handle:
        """This thread's handle for `policy` (a new one in a forked child: never the
        parent's sockets). Its kept-alive connections serve that policy's requests only."""
        handles = getattr(self._local, "handles", None)
        if handles is None:
            handles = self._local.handles = {}
        handle = handles.get(policy)
        if handle is None or handle.pid != os.getpid():
            if len(handles) >= 4:  # policies of settings since changed (tests): drop them
                handles.clear()
            handle = handles[policy] = _Handle(policy)
        return handle

    def send(
        self,
        method: str,
        uri: str,
        headers: dict[str, str],
        body: bytes | None,
        *,
        timeout: float,
        limit: int,
        stop: Stop,
        policy: Policy | None = None,
    ) -> Response:
        """Send the request and read the response; raise RequestError when there is none.

        `policy`: the egress policy its connections obey (None: any address)."""
        url = _parsed(uri)
        proxy = self._proxy_for(url.scheme or "http", url.host or "", url.port)
        refusal = policy.host_refusal(url.host or "") if policy is not None else None
        if refusal is not None:
            raise EgressRefused(refusal)
        handle = self._handle(policy)
        exchange = _Exchange(limit)
        curl = handle.curl
        curl.reset()  # every option back to its default; the kept-alive connections stay
        curl.setopt(pycurl.URL, url.url)  # parse_url percent-encodes what must be
        if body is None and method in _BODY_METHODS:
            body = b""
        if method == "HEAD":
            curl.setopt(pycurl.NOBODY, 1)  # no response body to wait for
        elif method != "GET" or body is not None:
            curl.setopt(pycurl.CUSTOMREQUEST, method)  # a body alone would make it a POST
        sent = dict(DEFAULT_HEADERS)
        names = {name.lower(): name for name in sent}
        for name, value in headers.items():
            sent.pop(names.pop(name.lower(), name), None)  # the task's replaces a default
            sent[name] = value
            names[name.lower()] = name
        # "Name:" alone would tell libcurl to leave a header out: an empty one is "Name;".
        lines = [
            (f"{name}: {value}" if value.strip() else f"{name};").encode("latin-1")
            for name, value in sent.items()
        ]
        lines.append(b"Expect:")  # no `Expect: 100-continue` round trip before a body
        if body is not None:
            curl.setopt(pycurl.POSTFIELDS, body)
            if "content-type" not in names:
                lines.append(b"Content-Type:")  # libcurl's form type left out
        curl.setopt(pycurl.HTTPHEADER, lines)
        curl.setopt(pycurl.ACCEPT_ENCODING, "")  # decode what the response is encoded in
        curl.setopt(pycurl.PROXY, proxy)
        curl.setopt(pycurl.CAINFO, self._ca_bundle)
        curl.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        curl.setopt(pycurl.NOSIGNAL, 1)
        curl.setopt(pycurl.DNS_CACHE_TIMEOUT, 0)  # a new connection looks the name up again
        curl.setopt(pycurl.TIMEOUT_MS, max(1, int(timeout * 1000)))
        curl.setopt(pycurl.WRITEFUNCTION, exchange.write)
        curl.setopt(pycurl.HEADERFUNCTION, exchange.header)
        curl.setopt(pycurl.SOCKOPTFUNCTION, handle.opened)
        curl.setopt(pycurl.CLOSESOCKETFUNCTION, handle.close)
        if policy is not None and not proxy:
            curl.setopt(pycurl.OPENSOCKETFUNCTION, handle.open_socket)
        request = handle.begin()
        try:
            with stop.calling(functools.partial(handle.abort, request)):
                if handle.stopped:
                    raise RequestError("the run was stopped")
                try:
                    curl.perform()
                except pycurl.error as exc:
                    if handle.refusals and exc.args[0] == pycurl.E_COULDNT_CONNECT:
                        refused = "; ".join(dict.fromkeys(handle.refusals))
                        if not handle.connected:
                            raise EgressRefused(refused) from None
                        error = _error(exc, url)  # the allowed addresses failed on their own
                        raise RequestError(f"{error.reason}; {refused}") from None
                    if not (exc.args[0] == pycurl.E_WRITE_ERROR and exchange.truncated):
                        raise _error(exc, url) from None
        finally:
            handle.end()
        return Response(
            status=curl.getinfo(pycurl.RESPONSE_CODE),
            headers=exchange.headers(),
            body=b"".join(exchange.chunks),
            truncated=exchange.truncated,
        )

    def _proxy_for(self, scheme: str, host: str, port: int | None) -> str:
        """The proxy URL for this request, or "" (none: libcurl then reads no variable)."""
        proxy = self._proxies.get(scheme) or self._proxies.get("all")
        if not proxy or _bypass(host, port, self._proxies):
            return ""
        return _proxy_url(proxy)


# A job or channel calls the same URI at every fire: parse it once (the Url is immutable).
_parsed = functools.lru_cache(maxsize=1024)(parse_url)


@functools.lru_cache(maxsize=8)
def _proxy_url(proxy: str) -> str:
    """A proxy variable's value as libcurl takes it, parsed once (not at every request)."""
    url = parse_url(proxy if "://" in proxy else f"http://{proxy}")
    if url.scheme not in ("http", "https"):
        raise ProxyNotSupported(f"the proxy {url.scheme}://{url.host} is not http(s)")
    return url.url


def _error(exc: pycurl.error, url) -> RequestError:
    code, message = exc.args[0], str(exc.args[1])
    where = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
    if code == pycurl.E_OPERATION_TIMEDOUT:
        return RequestError(message, timed_out=True)
    if code == pycurl.E_PEER_FAILED_VERIFICATION:
        return RequestError(f"TLS error: certificate verify failed ({message})")
    return RequestError(f"connection error to {where} ({message})")
