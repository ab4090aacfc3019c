"""Array literals (jobs/pgarray.py) read back by PostgreSQL as the values they were made of."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from jobs.pgarray import array_literal

pytestmark = pytest.mark.django_db


def read_back(values, pg_type: str):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s::{pg_type}[]", [array_literal(values)])
        return cursor.fetchone()[0]


def test_text_with_quotes_backslashes_braces_commas_and_lines_reads_back_as_is():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL arrays")
    texts = ['say "hi"', "C:\\path\\", "{a,b}", "", "NULL", " spaced ", "two\nlines", "é ✓", '\\"']
    assert read_back(texts, "text") == texts


def test_none_is_null_and_uuids_datetimes_ints_and_json_keep_their_values():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL arrays")
    ids = [uuid.uuid4(), uuid.uuid4()]
    assert read_back(ids, "uuid") == ids
    moments = [
        datetime(2026, 3, 29, 1, 30, 0, 123456, tzinfo=UTC) + timedelta(hours=h) for h in (0, 5)
    ]
    assert read_back(moments, "timestamptz") == moments
    assert read_back([1, None, -3], "integer") == [1, None, -3]
    results = [{"body": 'a "quoted" \\ body\n', "status_code": 200}, {}]
    back = read_back([json.dumps(r) for r in results], "jsonb")
    assert [json.loads(b) if isinstance(b, str) else b for b in back] == results
