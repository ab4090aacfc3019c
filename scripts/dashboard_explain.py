"""Measure the dashboard on a large throw-away PostgreSQL database (docs/benchmarks.md).

    .venv/bin/python scripts/dashboard_explain.py [--jobs 100000] [--runs 2000000]
        [--database postgres://postgres@127.0.0.1:5432/sched_dashboard_explain] [--keep]

Makes the database (dropped first, and at the end unless --keep), loads jobs and runs with
SQL (half the jobs one user's, 20 another's, the rest spread over 198 users; half the runs
in the last 30 minutes, about 550 a second, the rest over the week before), times the
rollup's passes, then opens each page as an operator, the large user and the small one,
and runs EXPLAIN ANALYZE on every query the page made. Prints one line per page with its
queries and their slowest execution, and the slowest plans.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

JOBS_SQL = """
INSERT INTO jobs_job (id, name, product, "group", type, task, payload, schedule, schedule_kind,
    schedule_text, timezone, retry, concurrency, status, status_reason, next_run_at, anchor_at,
    revision, fire_count, created_at, updated_at, owner_id, consecutive_failures, health)
SELECT md5('job' || i)::uuid, 'job-' || i, 'p' || (i %% 10), 'g' || (i %% 7), 'http',
    '{"uri": "http://127.0.0.1:9/", "body": null, "type": "http", "method": "GET",
      "headers": {}, "expected_range": "200-299"}',
    '{}', '{"kind": "interval", "every": "1m"}', 'interval', 'every 1 minute', 'UTC',
    '{"delay": "10s", "jitter": 0.1, "backoff": "exponential", "max_delay": "10m",
      "max_attempts": 1}', 'allow',
    CASE WHEN i %% 50 = 0 THEN 'paused' ELSE 'scheduled' END, '',
    CASE WHEN i %% 50 = 0 THEN NULL ELSE now() + (i %% 3600) * interval '1 second' END,
    now() - interval '8 days',
    1, 0, now() - i * interval '1 second', now(),
    CASE WHEN i <= %(half)s THEN %(big)s
         WHEN i <= %(half)s + 20 THEN %(small)s
         ELSE (%(others)s::int[])[1 + i %% 198] END,
    CASE WHEN i %% 100 = 0 THEN 1 + (i / 100) %% 20 ELSE 0 END,
    CASE WHEN i %% 100 = 0 THEN 'failing' ELSE 'ok' END
FROM generate_series(1, %(jobs)s) AS i
"""

# Ordered by due time, as runs are written (planned shortly before they are due): the table's
# rows of one minute sit together, as in production.
RUNS_SQL = """
INSERT INTO jobs_run (id, job_revision, due_at, attempt, trigger, idempotency_key, status,
    queued_at, started_at, finished_at, heartbeat_at, worker, result, error, created_at, job_id)
SELECT * FROM (
SELECT gen_random_uuid(), 1, d.due, 1, 'schedule', gen_random_uuid(), s.status, d.due,
    CASE WHEN s.status IN ('pending', 'missed') THEN NULL ELSE d.due + d.lag END,
    CASE WHEN s.status IN ('pending', 'running', 'missed') THEN NULL
         ELSE d.due + d.lag + d.took END,
    CASE WHEN s.status = 'running' THEN now() END,
    'host-' || (n %% 4) || ':' || (1000 + n %% 8) || ':run-' || (n %% 16), '{}'::jsonb,
    CASE WHEN s.status IN ('failed', 'timed_out') THEN 'HTTP 503 from the target' ELSE '' END,
    d.due, md5('job' || (1 + (random() * (%(jobs)s - 1))::int))::uuid
FROM generate_series(1, %(runs)s) AS n
CROSS JOIN LATERAL (
    SELECT CASE WHEN n %% 2 = 0 THEN now() - random() * interval '30 minutes'
                ELSE now() - interval '30 minutes' - random() * interval '7 days' END AS due,
           (5 + random() * random() * 400) * interval '1 millisecond' AS lag,
           (50 + random() * 900) * interval '1 millisecond' AS took,
           random() AS r
) d
CROSS JOIN LATERAL (
    SELECT CASE WHEN d.due > now() - interval '20 seconds' AND d.r < 0.3 THEN 'running'
                WHEN d.due > now() - interval '20 seconds' AND d.r < 0.5 THEN 'pending'
                WHEN d.r < 0.90 THEN 'succeeded' WHEN d.r < 0.96 THEN 'failed'
                WHEN d.r < 0.975 THEN 'timed_out' WHEN d.r < 0.98 THEN 'lost'
                WHEN d.r < 0.99 THEN 'skipped' ELSE 'missed' END AS status
) s
) generated ORDER BY 3
ON CONFLICT DO NOTHING
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=2_000_000)
    parser.add_argument(
        "--database", default="postgres://postgres@127.0.0.1:5432/sched_dashboard_explain"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument(
        "--reuse", action="store_true", help="measure a database kept by --keep, loading nothing"
    )
    args = parser.parse_args()

    url = urlsplit(args.database)
    name = url.path.lstrip("/")
    admin = args.database.rsplit("/", 1)[0] + "/postgres"
    if not args.reuse:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ.update(
        DATABASE_URL=args.database,
        DJANGO_SETTINGS_MODULE="schedsite.settings",
        SECRET_KEY=os.environ.get("SECRET_KEY", "explain-only-" + "x1y2z3" * 10),
        ALLOWED_HOSTS="testserver",
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    try:
        measure(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def measure(args) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    users = get_user_model()
    if args.reuse:
        root, big, small = (users.objects.get(username=n) for n in ("root", "big", "small"))
        with connection.cursor() as cursor:
            cursor.execute("SELECT max(due_at) FROM jobs_run")
            (loaded_at,) = cursor.fetchone()
        return pages(root, big, small, loaded_at, args)
    # No passwords (the pages are opened with force_login): hashing 200 would take minutes.
    root = users.objects.create(username="root", is_superuser=True, is_staff=True, password="!")
    big = users.objects.create(username="big", password="!")
    small = users.objects.create(username="small", password="!")
    users.objects.bulk_create(users(username=f"user-{i}", password="!") for i in range(198))
    others = list(users.objects.filter(username__startswith="user-").values_list("pk", flat=True))

    started = time.monotonic()
    loaded_at = None
    with connection.cursor() as cursor:
        params = {"jobs": args.jobs, "half": args.jobs // 2, "big": big.pk, "small": small.pk}
        cursor.execute(JOBS_SQL, {**params, "others": others})
        cursor.execute(RUNS_SQL, {"jobs": args.jobs, "runs": args.runs})
        cursor.execute(
            "UPDATE jobs_job j SET last_run_id = (SELECT r.id FROM jobs_run r"
            " WHERE r.job_id = j.id ORDER BY r.due_at DESC LIMIT 1) WHERE j.health = 'failing'"
        )
        cursor.execute("VACUUM ANALYZE jobs_job")
        cursor.execute("VACUUM ANALYZE jobs_run")
        cursor.execute("SELECT count(*), max(due_at) FROM jobs_run")
        loaded, loaded_at = cursor.fetchone()
    print(flush=True)
    print(f"loaded {args.jobs:,} jobs and {loaded:,} runs in {time.monotonic() - started:.0f} s")

    return pages(root, big, small, loaded_at, args)


def pages(root, big, small, loaded_at, args) -> None:
    from django.db import connection

    from dashboard.rollup import rollup

    passes = []
    while True:
        started = time.monotonic()
        redone = rollup()
        passes.append((redone, time.monotonic() - started))
        if redone <= 3 or len(passes) > 10:
            break
    for redone, seconds in passes:
        print(f"rollup pass (catching up): {redone} minutes in {seconds * 1000:,.0f} ms")
    # A pass as beat makes it under this load: its recent minutes full of runs (about
    # args.runs / 60 each), counted already (the pass reads them and writes nothing new).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM jobs_run WHERE due_at > %s - interval '3 minutes'", [loaded_at]
        )
        recent = cursor.fetchone()[0]
    for _ in range(3):
        started, cpu = time.monotonic(), time.process_time()
        redone = rollup(loaded_at)
        took, cpu = (time.monotonic() - started) * 1000, (time.process_time() - cpu) * 1000
        print(
            f"rollup pass (steady, {recent:,} runs in 3 minutes): {redone} minutes in"
            f" {took:,.0f} ms ({cpu:,.0f} ms of this process's CPU)"
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM dashboard_runbucket")
        print(f"rollup rows: {cursor.fetchone()[0]:,}")
        cursor.execute("ANALYZE dashboard_runbucket")

    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM jobs_job WHERE owner_id = %s LIMIT 1", [big.pk])
        big_job = cursor.fetchone()[0]
        cursor.execute("SELECT id FROM jobs_job WHERE owner_id = %s LIMIT 1", [small.pk])
        small_job = cursor.fetchone()[0]
    views = [
        (who, user, f"/dashboard/?span={span}")
        for who, user in (("operator", root), ("large user", big), ("small user", small))
        for span in ("hour", "day", "week")
    ]
    views += [
        ("large user", big, f"/dashboard/jobs/{big_job}/"),
        ("small user", small, f"/dashboard/jobs/{small_job}/"),
    ]
    slowest = []
    details = []
    print()
    print("| who | page | queries | wall ms (2nd view) | slowest query ms | all queries ms |")
    print("|---|---|---|---|---|---|")
    for who, user, path in views:
        wall, plans = view(user, path)
        total = sum(p["ms"] for p in plans)
        top = max(plans, key=lambda p: p["ms"])
        slowest.append((top["ms"], who, path, top))
        details.append(
            f"{who} {path}: "
            + "; ".join(f"{p['ms']:.1f} ms {p['sql'][7:70]}" for p in plans if p["ms"] >= 2)
        )
        print(f"| {who} | `{path}` | {len(plans)} | {wall:,.0f} | {top['ms']:.2f} | {total:.2f} |")
    print()
    print("queries of 2 ms or more:")
    for line in details:
        print(" ", line)
    print()
    for ms, who, path, top in sorted(slowest, key=lambda s: -s[0])[:4]:
        plan = "\n".join(line[:160] for line in top["plan"].splitlines())
        print(f"--- {ms:.2f} ms, {who} {path}:\n{top['sql'][:300]}\n{plan}\n")


def view(user, path: str) -> tuple[float, list[dict]]:
    """Open `path` as `user` twice (the second warm); the wall time of the second, and
    EXPLAIN ANALYZE of each query it made."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(user)
    assert client.get(path).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        started = time.monotonic()
        response = client.get(path)
        wall = (time.monotonic() - started) * 1000
    assert response.status_code == 200, response.status_code
    plans = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql)
            (result,) = cursor.fetchone()
            result = result if isinstance(result, list) else json.loads(result)
            top = result[0]
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql)
            text = "\n".join(row[0] for row in cursor.fetchall())
            plans.append(
                {
                    "sql": sql,
                    "ms": top["Execution Time"] + top["Planning Time"],
                    "plan": text,
                }
            )
    return wall, plans


if __name__ == "__main__":
    main()
