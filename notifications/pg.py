"""Statements of notifications sent on PostgreSQL as jobs/runner_sql.py sends its own.

A cursor of Django's connection that binds parameters on the server and, with
DB_PREPARED_STATEMENTS (the default), prepares each statement once per connection:
PostgreSQL then parses and plans it once, and Django compiles nothing. For the
statements paid once per fire or per notification (notifications/outbox.py,
notifications/delivery_sql.py). Errors come out as Django's.
"""

from __future__ import annotations

from contextlib import contextmanager

import psycopg
from django.conf import settings
from django.db import connection


def enabled() -> bool:
    return connection.vendor == "postgresql"


@contextmanager
def cursor():
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cur:
        yield cur


def execute(cur, sql: str, params) -> None:
    cur.execute(sql, params, prepare=settings.DB_PREPARED_STATEMENTS or None)
