"""Bulk-load jobs: clone one job made by the product's own service, server-side, N times.

`INSERT ... SELECT ... FROM generate_series` copies a template row (created through the
API serializer and `jobs.services.job_create`, so every column is what the product
writes) with a new id, its own due time and its own target URL, in one statement: no
round trip per row.
"""

from __future__ import annotations

import types

from django.db import connection

from jobs.api.serializers import JobInputSerializer
from jobs.models import Job, Run
from jobs.services import job_create


def template(user, body: dict) -> Job:
    data = JobInputSerializer(data=body, context={"request": types.SimpleNamespace(user=user)})
    data.is_valid(raise_exception=True)
    return job_create(owner=user, data=data.validated_data)


def clone(
    tpl: Job,
    count: int,
    *,
    due: str,
    uri: str | None = None,
    start: int = 0,
    params: dict | None = None,
    once: bool = False,
) -> int:
    """Insert `count` copies of `tpl`; `i` runs from `start`.

    `due` is an SQL expression of `i` (and of `params`, as %(name)s) giving next_run_at,
    also used as anchor_at; `uri` an SQL expression for the task's URI.
    """
    fields = [f for f in Job._meta.concrete_fields]
    overrides = {
        "id": "gen_random_uuid()",
        "next_run_at": f"({due})",
        "anchor_at": f"({due})",
        "created_at": "now()",
        "updated_at": "now()",
        "last_run_id": "NULL",
    }
    if uri is not None:
        overrides["task"] = f"jsonb_set(t.task, '{{uri}}', to_jsonb(({uri})::text))"
    if once:
        overrides["schedule"] = (
            "jsonb_set(t.schedule, '{at}', to_jsonb(to_char((" + due + ") AT TIME ZONE 'UTC', "
            '\'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"\')))'
        )
    cols = ", ".join(f'"{f.column}"' for f in fields)
    values = ", ".join(overrides.get(f.column, f't."{f.column}"') for f in fields)
    sql = (
        f'INSERT INTO "{Job._meta.db_table}" ({cols}) SELECT {values} '
        f'FROM "{Job._meta.db_table}" t, generate_series(%(start)s, %(end)s) AS i '
        f"WHERE t.id = %(template)s"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql, {"start": start, "end": start + count - 1, "template": tpl.id, **(params or {})}
        )
        return cursor.rowcount


def reset() -> None:
    """Remove every job and run (users, tokens and beat's tables stay)."""
    with connection.cursor() as cursor:
        cursor.execute(f'TRUNCATE "{Run._meta.db_table}", "{Job._meta.db_table}" CASCADE')


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'VACUUM ANALYZE "{Job._meta.db_table}"')
        cursor.execute(f'VACUUM ANALYZE "{Run._meta.db_table}"')
