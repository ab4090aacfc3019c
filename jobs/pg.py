"""Statements sent on PostgreSQL as prepared statements, past the ORM's compiler.

A cursor of Django's connection that binds parameters on the server. With
DB_PREPARED_STATEMENTS (the default), each statement is prepared once per connection:
PostgreSQL then no longer parses and plans it at every call, and Django compiles nothing.
Django's own cursors bind on the client and never prepare (for poolers before PgBouncer
1.21, which lose prepared statements between transactions: set DB_PREPARED_STATEMENTS=0).
Errors come out as Django's (OperationalError...), like those of its cursors. For the
statements paid per run, per fire, per notification or per create (jobs/runner_sql.py,
jobs/inserts.py, notifications/).
"""

from __future__ import annotations

import functools
from contextlib import contextmanager

import psycopg
from django.conf import settings
from django.db import connection


@functools.cache
def enabled() -> bool:
    """Whether the database is PostgreSQL: asked once (it is asked per run and per
    notification, and Django's connection proxy costs a lookup each time)."""
    return connection.vendor == "postgresql"


@contextmanager
def cursor():
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cur:
        yield cur


def execute(cur, sql: str, params) -> None:
    cur.execute(sql, params, prepare=settings.DB_PREPARED_STATEMENTS or None)
