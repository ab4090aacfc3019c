"""Slow clients against the web process: `python -m bench.slow_clients [--sockets N] [--before]`.

Starts the web process as the Procfile runs it (on a fresh database and a private Redis,
bench/infra.py), then, one phase after the other:

- `headers`: N sockets that send a request line and headers one byte every 2 s and never
  finish them (reopened as soon as the server closes one), while /api/v1/health is asked
  4 times a second;
- `body`: N sockets that send complete headers of a `POST /api/v1/jobs` (with a token, so
  the view reads the body) declaring a 1 MB body, then the body one byte every 2 s, with
  the same probes;
- `API creations`: `POST /api/v1/jobs` from 16 client threads, as `python -m bench` does.

`--before` also starts the Procfile's former web line (gunicorn's gthread worker,
2 processes x 4 threads), runs the same on it and prints both side by side; the
creation rounds alternate between the two, so a busy moment of the machine falls on both.
A figure, not a test.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests

from .api_load import post_jobs
from .infra import VENV_BIN, Bench
from .stats import child_pids, cpu_seconds, summary_ms

# The Procfile's former web line (gthread workers), for the side-by-side figures.
BEFORE = [
    str(VENV_BIN / "gunicorn"),
    "schedsite.wsgi",
    "--bind",
    "{bind}",
    "--workers",
    "2",
    "--threads",
    "4",
    "--access-logfile",
    "-",
    "--graceful-timeout",
    "20",
    "--no-control-socket",
]

ROUNDS = 4  # API creation rounds per web, taken in turns

HEADERS_TRICKLE = b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4000
BODY_HEAD = (
    "POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    "Authorization: Token {token}\r\nContent-Length: 1000000\r\n\r\n"
)


def log(msg: str) -> None:
    print(f"[slow-clients {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class SlowSockets:
    """N sockets sending one byte every `interval` seconds; a socket the server closes is
    opened again (as an attacker would)."""

    def __init__(self, base_url: str, count: int, *, body: str = "", interval: float = 2.0):
        self.host, port = base_url.removeprefix("http://").split(":")
        self.port = int(port)
        self.count = count
        self.body = body
        self.interval = interval
        self.closed_after: list[float] = []  # seconds a socket lived before the server closed it
        self.opened = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slow-sockets", daemon=True)

    def _open(self) -> tuple[socket.socket, float, int]:
        sock = socket.create_connection((self.host, self.port), timeout=5)
        self.opened += 1
        if self.body:
            sock.sendall(self.body.encode())
        return sock, time.monotonic(), 0

    def _run(self) -> None:
        conns = [self._open() for _ in range(self.count)]
        while not self._stop.wait(self.interval):
            for i, (sock, opened_at, sent) in enumerate(conns):
                try:
                    byte = b"1" if self.body else HEADERS_TRICKLE[sent : sent + 1]
                    sock.sendall(byte)
                    conns[i] = (sock, opened_at, sent + 1)
                except OSError:
                    self.closed_after.append(time.monotonic() - opened_at)
                    sock.close()
                    try:
                        conns[i] = self._open()
                    except OSError:
                        pass
        for sock, _, _ in conns:
            sock.close()

    def __enter__(self) -> SlowSockets:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(10)


def probe_health(base_url: str, seconds: float) -> dict:
    """Ask /api/v1/health 4 times a second for `seconds`; latencies and failures."""
    latencies, failures, longest_gap = [], 0, 0.0
    last_ok = time.monotonic()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        began = time.monotonic()
        try:
            ok = requests.get(f"{base_url}/api/v1/health", timeout=5).status_code == 200
        except requests.RequestException:
            ok = False
        now = time.monotonic()
        if ok:
            latencies.append(now - began)
            longest_gap = max(longest_gap, now - last_ok)
            last_ok = now
        else:
            failures += 1
        time.sleep(max(0.0, 0.25 - (time.monotonic() - began)))
    longest_gap = max(longest_gap, time.monotonic() - last_ok)
    out = summary_ms(latencies)
    out.update(ok=len(latencies), failures=failures, longest_gap_s=longest_gap)
    return out


def api_creations(base_url: str, token: str, seconds: float, clients: int = 16) -> dict:
    """POST /api/v1/jobs from `clients` threads for `seconds` (as bench/api.py's `bench_api`)."""
    return post_jobs(base_url, token, seconds, target="http://127.0.0.1:9/api", clients=clients)


def web_cpu_seconds(pid: int) -> float:
    """CPU time so far of the web process and its worker processes, seconds."""
    return cpu_seconds(pid) + sum(cpu_seconds(child) for child in child_pids(pid))


def db_connections(bench: Bench) -> int:
    """Sessions open on the bench database now (the web process's, once it is alone)."""
    import psycopg

    with psycopg.connect(bench.db.admin_url, autocommit=True) as conn:
        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
        return conn.execute(query, (bench.db.name,)).fetchone()[0]


def make_token(bench: Bench) -> str:
    script = (
        "from django.contrib.auth import get_user_model\n"
        "from rest_framework.authtoken.models import Token\n"
        "u = get_user_model().objects.create_user('bench', 'bench@example.com', 'bench-pass')\n"
        "print('TOKEN', Token.objects.create(user=u).key)\n"
    )
    out = bench.manage("shell", "-c", script)
    return next(line.split()[1] for line in out.splitlines() if line.startswith("TOKEN "))


def slow_phases(base: str, label: str, args, token: str) -> dict:
    results: dict = {}
    for phase in ("headers", "body"):
        log(f"{label}: {args.sockets} slow sockets ({phase}), health probed {args.seconds:g} s")
        body = BODY_HEAD.format(token=token) if phase == "body" else ""
        with SlowSockets(base, args.sockets, body=body) as slow:
            time.sleep(1.0)  # let them connect and take what they can
            health = probe_health(base, args.seconds)
        health.update(opened=slow.opened, closed_after=slow.closed_after)
        results[phase] = health
        log(
            f"  -> health {health['ok']} ok, {health['failures']} failed, "
            f"p50 {health['p50']:.0f} ms, max {health['max']:.0f} ms, longest gap "
            f"{health['longest_gap_s']:.1f} s; sockets opened {slow.opened}"
        )
        time.sleep(2.0)
    return results


def creations(bench: Bench, webs: dict[str, tuple[str, str]], args, token: str) -> dict:
    """API creations on each web in turn, `ROUNDS` times, so that each sees the same
    moments of a shared machine; the rates and latencies of all its rounds together."""
    rounds = {label: [] for label in webs}
    cpu = dict.fromkeys(webs, 0.0)
    for i in range(ROUNDS):
        for label, (name, base) in webs.items():
            pid = bench.processes[name].proc.pid
            before = web_cpu_seconds(pid)
            rounds[label].append(api_creations(base, token, args.api_seconds / ROUNDS))
            cpu[label] += web_cpu_seconds(pid) - before
            r = rounds[label][-1]
            log(f"  {label} round {i + 1}: {r['per_s']:.0f}/s, p50 {r['p50']:.0f} ms")
    out = {}
    for label, results in rounds.items():
        done = sum(r["n"] for r in results)
        out[label] = {
            "per_s": sum(r["per_s"] for r in results) / len(results),
            "rounds": [round(r["per_s"]) for r in results],
            "p50": statistics.median(r["p50"] for r in results),
            "p99": max(r["p99"] for r in results),
            "errors": sum(r["errors"] for r in results),
            "cpu_ms": cpu[label] * 1000 / max(1, done),
        }
    return out


def table(columns: dict[str, dict]) -> str:
    def health(r: dict) -> str:
        closed = r["closed_after"]
        closed_note = (
            f"; closed by the server after {min(closed):.0f}-{max(closed):.0f} s" if closed else ""
        )
        return (
            f"{r['ok']} ok / {r['failures']} failed, p50 {r['p50']:.0f} ms, "
            f"max {r['max']:.0f} ms, longest gap {r['longest_gap_s']:.1f} s{closed_note}"
        )

    rows = [
        ("health during slow headers", lambda r: health(r["headers"])),
        ("health during slow bodies", lambda r: health(r["body"])),
        (
            "API creations/s (16 clients)",
            lambda r: (
                f"{r['api']['per_s']:.0f}/s (rounds {r['api']['rounds']}), "
                f"p50 {r['api']['p50']:.0f} ms, p99 {r['api']['p99']:.0f} ms, "
                f"{r['api']['errors']} errors"
            ),
        ),
        ("web CPU per creation", lambda r: f"{r['api']['cpu_ms']:.1f} ms"),
    ]
    lines = ["| figure | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for name, cell in rows:
        lines.append(f"| {name} | " + " | ".join(cell(r) for r in columns.values()) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=16, help="slow sockets (default 16)")
    parser.add_argument("--seconds", type=float, default=20, help="probe time per phase")
    parser.add_argument("--api-seconds", type=float, default=10)
    parser.add_argument(
        "--before", action="store_true", help="also run the gthread web line of before"
    )
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-slow-clients-"))
    columns: dict[str, dict] = {}
    with Bench(workdir) as bench:
        bench.manage("migrate", "--noinput", "-v", "0")
        token = make_token(bench)
        variants = {"now: the Procfile's web": None}
        if args.before:
            variants = {"before: gthread 2x4": BEFORE, **variants}
        webs = {}
        for i, (label, argv) in enumerate(variants.items()):
            log(f"starting {label}")
            webs[label] = (f"web{i}", bench.start_web(argv=argv, name=f"web{i}"))
        for label, (_, base) in webs.items():
            columns[label] = slow_phases(base, label, args, token)
        log(f"API creations, 16 clients, {ROUNDS} rounds of {args.api_seconds / ROUNDS:g} s each")
        for label, api in creations(bench, webs, args, token).items():
            columns[label]["api"] = api
        connections = db_connections(bench)
    print()
    print(f"{args.sockets} slow sockets, 1 byte every 2 s; health probed 4/s, {args.seconds:g} s")
    print(table(columns))
    print(f"database connections open after the creations, all webs together: {connections}")
    print(f"\nlogs in {workdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
