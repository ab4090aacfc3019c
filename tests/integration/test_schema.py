"""The tables the dispatcher and the workers write on every fire carry no index they do not use.

Planning a fire, a claim and a finish each update a job row in a way that adds an entry to
every index of jobs_job (the runs alike): an index nothing reads is pure write cost.
"""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def indexes(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return dict(cursor.fetchall())


def key_columns(definition: str) -> list[str]:
    """The key columns of a CREATE INDEX statement, in order (ASC/DESC, opclass dropped)."""
    inside = definition.split(" USING btree (", 1)[1].split(")", 1)[0]
    return [part.split()[0].strip('"') for part in inside.split(",")]


@pytest.mark.parametrize("table", ["jobs_job", "jobs_run"])
def test_no_index_is_the_prefix_of_another_or_a_like_twin(table):
    if connection.vendor != "postgresql":
        pytest.skip("the index layout is checked on PostgreSQL")
    found = indexes(table)
    assert not [name for name, sql in found.items() if "pattern_ops" in sql]
    columns = {name: key_columns(sql) for name, sql in found.items() if " WHERE " not in sql}
    redundant = [
        (name, other)
        for name, cols in columns.items()
        for other, longer in columns.items()
        if other != name and "UNIQUE" not in found[name] and longer[: len(cols)] == cols
    ]
    assert redundant == []


def test_the_planner_and_the_reaper_keep_their_partial_indexes():
    if connection.vendor != "postgresql":
        pytest.skip("the index layout is checked on PostgreSQL")
    assert "WHERE (next_run_at IS NOT NULL)" in indexes("jobs_job")["job_due_idx"]
    runs = indexes("jobs_run")
    assert "WHERE ((status)::text = 'pending'::text)" in runs["run_pending_idx"]
    assert "WHERE ((status)::text = 'running'::text)" in runs["run_running_idx"]
