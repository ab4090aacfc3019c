"""The worker's CPU per HTTP request, by layer: `python -m bench.http_client`.

One thread sends POSTs, one after the other on a kept-alive connection, to the loopback
target (`bench.target`, its own process), and its own CPU time (`time.thread_time`) is
read per request, the best of 5 rounds of 1,000 each, side by side:

- the HTTP executor as a worker runs it (`HttpExecutor.run`: headers, the stoppable
  request through executors/http_client.py on libcurl, the body within its limit, the
  outcome), for an ordinary owner (the egress policy applies; EGRESS_ALLOW opens the
  loopback target) and for an owner it does not limit;
- urllib3's PoolManager alone, with the same headers and body (the executor's former
  client);
- the standard library's http.client alone;
- libcurl through pycurl alone, a handle kept, as a worker thread keeps one.

The executor's figure minus libcurl's is what our own layers cost per run.
Needs no database. A figure, not a test.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

from .infra import ROOT, VENV_BIN, free_port

ROUNDS, PER_ROUND = 5, 1000


def cpu_us_per_call(call) -> float:
    for _ in range(200):  # warm up: connections made, caches filled
        call()
    best = []
    for _ in range(ROUNDS):
        started = time.thread_time()
        for _ in range(PER_ROUND):
            call()
        best.append((time.thread_time() - started) / PER_ROUND * 1e6)
    return min(best)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "schedsite.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "0123456789abcdef" * 3)
    os.environ.setdefault("EGRESS_ALLOW", "127.0.0.0/8")  # the target is on loopback
    import django

    django.setup()
    import urllib3

    from executors.base import RunContext
    from executors.http import USER_AGENT, HttpExecutor

    port = free_port()
    target = subprocess.Popen(
        [str(VENV_BIN / "python"), "-m", "bench.target", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        target.stdout.readline()  # "bench target ready"
        url = f"http://127.0.0.1:{port}/hook"
        task = {"method": "POST", "uri": url, "body": {"a": 1}, "expected_range": "200-299"}
        executor = HttpExecutor()

        def ours(unrestricted: bool = False) -> None:
            context = RunContext(
                job_id=str(uuid.uuid4()),
                run_id=str(uuid.uuid4()),
                attempt=1,
                idempotency_key=str(uuid.uuid4()),
                task=task,
                payload={},
                timeout=None,
                due_at=datetime.now(UTC),
                egress_unrestricted=unrestricted,
            )
            outcome = executor.run(context)
            assert outcome.status == "succeeded", outcome

        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "*/*",
            "Accept-Encoding": "gzip, deflate",
            "Idempotency-Key": str(uuid.uuid4()),
            "X-Sched-Job-Id": str(uuid.uuid4()),
            "X-Sched-Run-Id": str(uuid.uuid4()),
            "X-Sched-Attempt": "1",
            "Content-Type": "application/json",
        }
        body = json.dumps({"a": 1}).encode()
        manager = urllib3.PoolManager()

        def plain_urllib3() -> None:
            response = manager.urlopen(
                "POST", url, body=body, headers=headers, redirect=False, retries=False,
                preload_content=False,
            )  # fmt: skip
            response.read()
            response.release_conn()

        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def plain_http_client() -> None:
            conn.request("POST", "/hook", body=body, headers=headers)
            conn.getresponse().read()

        import pycurl

        curl = pycurl.Curl()
        curl_headers = [f"{name}: {value}" for name, value in headers.items()]

        def plain_pycurl() -> None:
            chunks: list[bytes] = []
            curl.setopt(pycurl.URL, url)
            curl.setopt(pycurl.CUSTOMREQUEST, "POST")
            curl.setopt(pycurl.POSTFIELDS, body)
            curl.setopt(pycurl.HTTPHEADER, curl_headers)
            curl.setopt(pycurl.WRITEFUNCTION, chunks.append)
            curl.setopt(pycurl.TIMEOUT_MS, 30_000)
            curl.setopt(pycurl.NOSIGNAL, 1)
            curl.perform()
            assert curl.getinfo(pycurl.RESPONSE_CODE) == 200

        rows = [
            ("HttpExecutor.run (the worker's path)", cpu_us_per_call(ours)),
            ("HttpExecutor.run, egress unrestricted", cpu_us_per_call(lambda: ours(True))),
            ("urllib3 PoolManager.urlopen", cpu_us_per_call(plain_urllib3)),
            ("http.client", cpu_us_per_call(plain_http_client)),
            ("pycurl (libcurl)", cpu_us_per_call(plain_pycurl)),
        ]
    finally:
        target.kill()
        target.wait()
    base = rows[3][1]
    print(f"CPU of the sending thread per request, best of {ROUNDS} x {PER_ROUND:,}:")
    print("| layer | us/request | ratio to http.client |")
    print("|---|---:|---:|")
    for name, us in rows:
        print(f"| {name} | {us:,.0f} | {us / base:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
