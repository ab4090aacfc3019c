"""A new row inserted by one prepared statement on PostgreSQL (jobs/pg.py).

Django's `save(force_insert=True)` compiles its INSERT at every call: about a quarter of
the web's CPU per job create (docs/benchmarks.md, "API creations"). Here the statement is
made once per model and its values are prepared by each field as the ORM would
(`pre_save`, then `get_db_prep_save`), so what is stored is the same. No model signal is
sent (none is listened to here). Other databases take the ORM's insert.
"""

from __future__ import annotations

import functools

from django.db import connection
from django.db.models import Model

from . import pg


def insert(obj: Model) -> None:
    """Insert `obj` as a new row, as `obj.save(force_insert=True)` does."""
    if not pg.enabled():
        obj.save(force_insert=True)
        return
    fields = obj._meta.concrete_fields
    values = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
    with pg.cursor() as cur:
        pg.execute(cur, _insert_sql(type(obj)), values)
    obj._state.adding = False
    obj._state.db = connection.alias


@functools.cache
def _insert_sql(model: type[Model]) -> str:
    meta = model._meta
    columns = ", ".join(connection.ops.quote_name(f.column) for f in meta.concrete_fields)
    marks = ", ".join(["%s"] * len(meta.concrete_fields))
    return f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({columns}) VALUES ({marks})"
