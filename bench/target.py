"""A fast loopback HTTP target that records when each request arrives.

Run as its own process (`python -m bench.target PORT`) so that its CPU does not share a
GIL with the benchmark driver. It answers every request `200 ok` (HTTP/1.1 keep-alive)
but those to `/flip/...`, and records (arrival time, path); the driver reads them with:

- `GET /_count`: `{"count": n}`, the requests recorded so far;
- `GET /_dump`: `[[time, path], ...]` every recorded request, and forgets them (and
  the state of the `/flip/` paths).

A path under `/flip/` answers `500` and `200` in turn, `500` first: a job calling its
own such path fails and recovers at every other fire (bench/notify.py).

The arrival time is `time.time()` when the first bytes of the request came in.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
ERROR = (
    b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n"
    b"\r\nfail"
)
RECORDS: list[tuple[float, str]] = []
FLIPS: dict[str, int] = {}  # /flip/ path -> requests answered


def _reply_json(transport: asyncio.Transport, value) -> None:
    body = json.dumps(value).encode()
    transport.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


class Recorder(asyncio.Protocol):
    def connection_made(self, transport) -> None:
        self.transport = transport
        self.buffer = b""
        self.first_bytes_at: float | None = None

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if not self.buffer:
            self.first_bytes_at = now
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:].strip())
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            arrived = self.first_bytes_at or now
            self.first_bytes_at = now if self.buffer else None
            path = head.split(b"\r\n", 1)[0].split(b" ")[1].decode("latin-1")
            if path == "/_count":
                _reply_json(self.transport, {"count": len(RECORDS)})
            elif path == "/_dump":
                _reply_json(self.transport, RECORDS[:])
                RECORDS.clear()
                FLIPS.clear()
            elif path.startswith("/flip/"):
                RECORDS.append((arrived, path))
                answered = FLIPS.get(path, 0)
                FLIPS[path] = answered + 1
                self.transport.write(OK if answered % 2 else ERROR)
            else:
                RECORDS.append((arrived, path))
                self.transport.write(OK)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Recorder, "127.0.0.1", port, backlog=2048)
    print(f"bench target ready on 127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
