"""A loopback HTTP server that records what it receives, for executor tests."""

from __future__ import annotations

import gzip
import json
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.received.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers),
                "body": body,
                "at": time.time(),
                "client_port": self.client_address[1],  # one per connection
            }
        )
        parts = urlsplit(self.path).path.strip("/").split("/")  # also a proxy's absolute URI
        status, payload, extra = 200, b"ok", {}
        if parts[0] == "status":
            status = int(parts[1])
            payload = f"status {status}".encode()
        elif parts[0] == "slow":
            time.sleep(float(parts[1]))
        elif parts[0] == "big":
            payload = b"x" * int(parts[1])
        elif parts[0] == "echo":
            payload = json.dumps({"body": body.decode()}).encode()
        elif parts[0] == "cookie":
            extra["Set-Cookie"] = "session=alice; Path=/"
        elif parts[0] == "nul":  # bytes PostgreSQL text and jsonb cannot hold
            payload = b"before\x00after \xff"
        elif parts[0] == "gzip":
            payload, extra["Content-Encoding"] = gzip.compress(b"unzipped ok"), "gzip"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A client that hangs up early (a body cut at HTTP_BODY_LIMIT) is not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


class Target:
    def __init__(
        self, tls: tuple[str, str] | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        """`tls`: (certificate file, key file) to serve https; `host`: an IPv4 or IPv6
        address to listen on."""
        server_class = _Server6 if ":" in host else _Server
        self.server = server_class((host, port), Recorder)
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.server.daemon_threads = True
        self.server.received = []
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"{self.scheme}://{host}:{port}"

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def received(self) -> list[dict]:
        return self.server.received

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
