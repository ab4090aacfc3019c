"""PostgreSQL array literals for `%s::type[]` parameters, built faster than psycopg does."""

from __future__ import annotations


def array_literal(values) -> str:
    """The PostgreSQL array literal of `values`: every element in double quotes (None:
    NULL), its text parsed by the server as the element type the parameter is cast to.

    For UUIDs, ints, strings and datetimes (`str()` is their PostgreSQL input form): it
    spares psycopg's list adapter, which dumps every element through its own adapter after
    working out the list's element type (docs/benchmarks.md has the figures).
    """
    return (
        "{"
        + ",".join(
            "NULL" if v is None else '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
            for v in values
        )
        + "}"
    )
