"""POST /jobs with an Idempotency-Key: a retried create answers the first job, never a second."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import requests
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from jobs import idempotency, services
from jobs.api.serializers import JobInputSerializer
from jobs.beat import DispatchingScheduler
from jobs.models import IdempotencyKey, Job

from .helpers import end_other_sessions, http_job

pytestmark = pytest.mark.django_db

JOBS = "/api/v1/jobs"


def post(client, body, key, path=JOBS, **extra):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key, **extra)


def test_the_same_key_and_body_answer_the_first_job(api):
    first = post(api, http_job(name="a"), "order-42")
    again = post(api, http_job(name="a"), "order-42")
    assert first.status_code == again.status_code == 201, again.data
    assert "Idempotent-Replayed" not in first
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again["Location"] == first["Location"]
    assert Job.objects.count() == 1


def test_a_now_job_retried_runs_once(api):
    post(api, http_job("now"), "k1")
    post(api, http_job("now"), "k1")
    assert Job.objects.get().runs.count() == 1


def test_the_same_json_in_another_key_order_and_spacing_is_the_same_request(api):
    first = api.post(
        JOBS,
        '{"schedule": "1h", "task": {"uri": "http://127.0.0.1:9/x"}}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    again = api.post(
        JOBS,
        '{ "task" : { "uri" : "http://127.0.0.1:9/x" } , "schedule" : "1h" }',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert first.status_code == 201, first.data
    assert again.json()["id"] == first.json()["id"]


def test_the_same_key_with_another_body_is_a_422_naming_the_header(api):
    post(api, http_job(name="a"), "k")
    response = post(api, http_job(name="b"), "k")
    assert response.status_code == 422
    assert "another request" in response.json()["Idempotency-Key"][0]
    assert Job.objects.count() == 1


def test_the_same_key_on_a_namespace_is_another_request(api):
    post(api, http_job(), "k")
    response = post(api, http_job(), "k", path="/api/v1/products/p/groups/g/jobs")
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()


def test_keys_are_per_user(api, bob_api):
    mine = post(api, http_job(), "k").json()
    bobs = post(bob_api, http_job(), "k").json()
    assert mine["id"] != bobs["id"]
    assert Job.objects.count() == 2


def test_without_a_key_each_create_is_a_new_job(api):
    api.post(JOBS, http_job(), format="json")
    api.post(JOBS, http_job(), format="json")
    assert Job.objects.count() == 2


def test_a_refused_create_stores_no_key(api):
    bad = post(api, http_job(schedule="whenever"), "k")
    assert bad.status_code == 400
    assert "schedule" in bad.json()
    assert not IdempotencyKey.objects.exists()
    good = post(api, http_job(), "k")
    assert good.status_code == 201
    assert "Idempotent-Replayed" not in good


def test_a_key_older_than_a_day_creates_a_new_job(api):
    first = post(api, http_job(), "k").json()
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=24, seconds=1))
    again = post(api, http_job(), "k")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert again.json()["id"] != first["id"]
    assert str(IdempotencyKey.objects.get().job_id) == again.json()["id"]
    # and the new key holds: another body under it is refused
    assert post(api, http_job(name="other"), "k").status_code == 422


def test_a_key_a_day_old_but_not_yet_expired_still_answers(api):
    first = post(api, http_job(), "k").json()
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=23, minutes=59))
    assert post(api, http_job(), "k").json()["id"] == first["id"]


@pytest.mark.parametrize(
    "key, problem",
    [
        ("", "Empty"),
        ("x" * 256, "at most 255"),
        ("tab\there", "printable ASCII"),
        (" padded", "printable ASCII"),
        ("caf\xe9", "printable ASCII"),
    ],
)
def test_a_bad_key_is_a_400_naming_the_header(api, key, problem):
    response = post(api, http_job(), key)
    assert response.status_code == 400
    assert problem in response.json()["Idempotency-Key"][0]
    assert not Job.objects.exists()


def test_the_longest_key_is_taken(api):
    key = "k" * 255
    first = post(api, http_job(), key).json()
    assert post(api, http_job(), key).json()["id"] == first["id"]


def test_beat_purges_keys_older_than_a_day(api):
    post(api, http_job(), "old")
    post(api, http_job(), "new")
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    beat = DispatchingScheduler.__new__(DispatchingScheduler)  # only its purge is called
    beat._next_purge = 0.0
    DispatchingScheduler._purge_when_due(beat)
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
    assert Job.objects.count() == 2  # the jobs stay
    assert idempotency.purge_expired() == 0


# Concurrency: real transactions on separate connections (threads), so no test transaction.


def _data():
    serializer = JobInputSerializer(data=http_job(name="raced"))
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _waiting_on_a_lock() -> bool:
    """Whether another session of the test database waits for a lock (the second insert)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] > 0


def _race(alice, *, first_commits: bool):
    """The first create holds its transaction open until the second waits on its key;
    then commits or rolls back. Returns (first job, (second job, replayed))."""
    inserted, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def first():
        try:
            with transaction.atomic():
                job, _ = services.job_create_once(
                    owner=alice, data=_data(), key="k", fingerprint="f"
                )
                results["first"] = job
                inserted.set()
                release.wait(30)
                if not first_commits:
                    raise RuntimeError("roll back")
        except RuntimeError:
            pass
        finally:
            connection.close()

    def second():
        inserted.wait(30)
        try:
            results["second"] = services.job_create_once(
                owner=alice, data=_data(), key="k", fingerprint="f"
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert inserted.wait(30)
    deadline = time.monotonic() + 30
    while not _waiting_on_a_lock():  # the second insert waits for the first transaction
        assert time.monotonic() < deadline, "the second create never waited on the key"
        time.sleep(0.02)
    assert "second" not in results
    release.set()
    for thread in threads:
        thread.join(30)
    return results["first"], results["second"]


@pytest.mark.django_db(transaction=True)
def test_a_create_racing_a_committed_one_with_its_key_answers_its_job(alice):
    first, (second, replayed) = _race(alice, first_commits=True)
    assert replayed is True
    assert second.id == first.id
    assert Job.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_create_racing_a_rolled_back_one_with_its_key_creates_the_job(alice):
    first, (second, replayed) = _race(alice, first_commits=False)
    assert replayed is False
    assert second.id != first.id
    assert list(Job.objects.values_list("id", flat=True)) == [second.id]
    assert IdempotencyKey.objects.get().job_id == second.id


@pytest.fixture
def web(live_server):
    """A live web server on loopback (its sessions ended after the test)."""
    yield live_server
    end_other_sessions()


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_with_one_key_over_http_create_one_job(alice, web):
    """Two clients post the same key at the same moment, for several keys: one job each."""
    token = Token.objects.create(user=alice).key
    keys = [f"burst-{i}" for i in range(8)]
    barrier = threading.Barrier(2)
    answers: list[tuple[str, int, str, str | None]] = []

    def client(key):
        with requests.Session() as session:
            barrier.wait(10)
            response = session.post(
                f"{web.url}{JOBS}",
                json=http_job(name=key),
                headers={"Authorization": f"Token {token}", "Idempotency-Key": key},
                timeout=30,
            )
            answers.append(
                (
                    key,
                    response.status_code,
                    response.json()["id"],
                    response.headers.get("Idempotent-Replayed"),
                )
            )

    for key in keys:
        pair = [threading.Thread(target=client, args=(key,)) for _ in range(2)]
        for thread in pair:
            thread.start()
        for thread in pair:
            thread.join(30)
        barrier.reset()
    assert len(answers) == 2 * len(keys)
    assert all(status == 201 for _, status, _, _ in answers), answers
    for key in keys:
        ids = {job_id for k, _, job_id, _ in answers if k == key}
        replays = [replayed for k, _, _, replayed in answers if k == key]
        assert len(ids) == 1, (key, answers)
        assert replays.count("true") == 1 and replays.count(None) == 1, (key, answers)
    assert Job.objects.count() == len(keys)
