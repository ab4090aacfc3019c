"""POST /api/v1/jobs from many client threads for a while: creations per second, latency."""

from __future__ import annotations

import http.client
import json
import threading
import time

from .stats import summary_ms


def post_jobs(base_url: str, token: str, seconds: float, *, target: str, clients: int = 16) -> dict:
    """Create HTTP jobs (every 1h, to `target`) from `clients` threads, each on one kept-alive
    connection, for `seconds`; the latency summary (ms), creations per second and errors."""
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    body = json.dumps(
        {
            "task": {"method": "POST", "uri": target, "body": {"a": 1}},
            "schedule": {"every": "1h"},
        }
    )
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start = threading.Event()
    stop_at = [0.0]
    address = base_url.removeprefix("http://")

    def client() -> None:
        conn = http.client.HTTPConnection(address, timeout=30)
        mine, bad = [], 0
        start.wait()
        while time.monotonic() < stop_at[0]:
            t = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/jobs", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 201
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(address, timeout=30)
            if ok:
                mine.append(time.perf_counter() - t)
            else:
                bad += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    began = time.monotonic()
    stop_at[0] = began + seconds
    start.set()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    out = summary_ms(latencies)
    out.update(per_s=len(latencies) / elapsed, errors=errors[0], seconds=elapsed)
    return out
