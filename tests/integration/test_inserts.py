"""jobs.inserts.insert stores a new row as the ORM's save(force_insert=True) does: every
column the same, read back through the ORM (JSON, durations, time zones, nulls, defaults)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from jobs.inserts import insert
from jobs.models import Job

pytestmark = pytest.mark.django_db


NEXT = timezone.now() + timedelta(hours=1)


def job(owner, **extra) -> Job:
    return Job(
        id=uuid.uuid4(),
        owner=owner,
        name="n\u00e9 \"quoted\" 'x'",
        type="http",
        task={"type": "http", "uri": "https://example.com/a?b=1", "headers": {"X": "é"}},
        payload={"list": [1, 2.5, None, True], "nested": {"k": "v"}},
        schedule={"kind": "interval", "every": "1h"},
        timezone="Europe/Paris",
        timeout=90.5,
        misfire_grace=None,
        next_run_at=NEXT,
        **extra,
    )


def test_a_row_inserted_reads_back_as_one_the_orm_inserted(alice):
    ours, theirs = job(alice), job(alice)
    insert(ours)
    theirs.save(force_insert=True)
    assert not ours._state.adding
    a = model_to_dict(Job.objects.get(id=ours.id), exclude=["id"])
    b = model_to_dict(Job.objects.get(id=theirs.id), exclude=["id"])
    created = Job.objects.get(id=ours.id).created_at
    assert created is not None and abs(created - timezone.now()) < timedelta(minutes=1)
    assert {k: v for k, v in a.items() if k not in ("created_at", "updated_at")} == {
        k: v for k, v in b.items() if k not in ("created_at", "updated_at")
    }
