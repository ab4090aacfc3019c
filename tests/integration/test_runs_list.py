"""GET /api/v1/runs: the caller's runs across their jobs, newest first, filtered, paged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from jobs import selectors
from jobs.models import Run, RunStatus, Trigger
from tests.users import client_for, make_user

from .helpers import http_job

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

T0 = datetime(2030, 1, 1, tzinfo=UTC)
LISTED = {
    "id",
    "link",
    "job",
    "job_name",
    "job_link",
    "status",
    "attempt",
    "trigger",
    "due_at",
    "started_at",
    "finished_at",
    "error",
}


@pytest.fixture
def alice(django_user_model):
    """May create command jobs, so her jobs are of two types."""
    return make_user("alice", "jobs.run_code")


@pytest.fixture
def api(alice) -> APIClient:
    return client_for(alice)


@pytest.fixture
def jobs(api, bob_api) -> dict[str, str]:
    """Alice's three jobs and Bob's one, by name: their ids."""
    bodies = {
        "backup": http_job(name="backup", product="vps4", group="backups"),
        "dns": {
            "name": "dns",
            "product": "vps4",
            "group": "dns",
            "task": {"type": "command", "command": ["true"]},
            "schedule": "in 1h",
        },
        "mail": http_job(name="mail", product="mail", group="backups"),
    }
    ids = {name: create(api, body) for name, body in bodies.items()}
    ids["bobs"] = create(bob_api, http_job(name="bobs", product="vps4", group="backups"))
    return ids


def create(client, body) -> str:
    response = client.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 201, response.data
    return response.json()["id"]


def add_run(job_id: str, minute: int, status=RunStatus.SUCCEEDED, attempt=1, **extra) -> str:
    """A run of the job due `minute` minutes after T0; its id."""
    run = Run.objects.create(
        job_id=job_id,
        job_revision=1,
        due_at=T0 + timedelta(minutes=minute),
        attempt=attempt,
        trigger=Trigger.RETRY if attempt > 1 else Trigger.SCHEDULE,
        idempotency_key=uuid.uuid4(),
        status=status,
        **extra,
    )
    return str(run.id)


def listed(client, query: str = "") -> list[str]:
    response = client.get(f"/api/v1/runs?{query}")
    assert response.status_code == 200, response.content
    return [run["id"] for run in response.json()["results"]]


@pytest.fixture
def history(jobs) -> dict[str, str]:
    """Runs of every job at minutes 0-5 after T0, by label."""
    return {
        "backup@0": add_run(jobs["backup"], 0, RunStatus.FAILED, error="Status 503"),
        "backup@0#2": add_run(jobs["backup"], 0, RunStatus.SUCCEEDED, attempt=2),
        "dns@1": add_run(jobs["dns"], 1, RunStatus.TIMED_OUT),
        "mail@2": add_run(jobs["mail"], 2, RunStatus.FAILED),
        "backup@3": add_run(jobs["backup"], 3, RunStatus.SUCCEEDED),
        "dns@4": add_run(jobs["dns"], 4, RunStatus.PENDING),
        "mail@5": add_run(jobs["mail"], 5, RunStatus.SUCCEEDED),
        "bobs@5": add_run(jobs["bobs"], 5, RunStatus.FAILED),
    }


def labels(history, ids: list[str]) -> list[str]:
    by_id = {run_id: label for label, run_id in history.items()}
    return [by_id[run_id] for run_id in ids]


def test_it_lists_the_callers_runs_across_jobs_newest_first(api, jobs, history):
    assert labels(history, listed(api)) == [
        "mail@5",
        "dns@4",
        "backup@3",
        "mail@2",
        "dns@1",
        "backup@0#2",  # the retry of a fire before its first attempt
        "backup@0",
    ]


def test_runs_due_together_keep_one_order_across_pages(api, jobs):
    same = sorted(add_run(jobs[name], 7) for name in ("backup", "dns", "mail"))
    assert listed(api) == same
    pages = [listed(api, f"limit=1&offset={offset}") for offset in range(3)]
    assert [run for page in pages for run in page] == same


def test_each_run_names_its_job_and_leaves_its_output_to_its_own_url(api, jobs, history):
    Run.objects.filter(id=history["backup@0"]).update(result={"status_code": 503, "body": "x"})
    run = api.get("/api/v1/runs").json()["results"][-1]
    assert set(run) == LISTED
    assert run["id"] == history["backup@0"]
    assert run["link"] == f"http://testserver/api/v1/runs/{history['backup@0']}"
    assert (run["job"], run["job_name"]) == (jobs["backup"], "backup")
    assert run["job_link"] == f"http://testserver/api/v1/jobs/{jobs['backup']}"
    assert (run["status"], run["attempt"], run["trigger"]) == ("failed", 1, "schedule")
    assert (run["due_at"], run["error"]) == ("2030-01-01T00:00:00Z", "Status 503")
    assert api.get(run["link"]).json()["result"] == {"status_code": 503, "body": "x"}


def test_it_filters_by_one_status_or_several(api, history):
    assert labels(history, listed(api, "status=failed")) == ["mail@2", "backup@0"]
    assert labels(history, listed(api, "status=failed&status=timed_out")) == [
        "mail@2",
        "dns@1",
        "backup@0",
    ]
    assert listed(api, "status=lost") == []


def test_it_filters_by_job(api, jobs, history):
    assert labels(history, listed(api, f"job={jobs['dns']}")) == ["dns@4", "dns@1"]
    assert listed(api, f"job={uuid.uuid4()}") == []


def test_it_filters_by_the_jobs_type_product_and_group(api, history):
    assert labels(history, listed(api, "type=command")) == ["dns@4", "dns@1"]
    assert len(listed(api, "type=command&type=http")) == 7
    assert labels(history, listed(api, "product=mail")) == ["mail@5", "mail@2"]
    assert labels(history, listed(api, "group=backups")) == [
        "mail@5",
        "backup@3",
        "mail@2",
        "backup@0#2",
        "backup@0",
    ]
    assert listed(api, "group=backup") == []  # exact, not a prefix


def test_since_is_inclusive_and_until_exclusive(api, history):
    window = "since=2030-01-01T00:01:00Z&until=2030-01-01T00:04:00Z"
    assert labels(history, listed(api, window)) == ["backup@3", "mail@2", "dns@1"]
    assert labels(history, listed(api, "since=2030-01-01T00:04:00Z")) == ["mail@5", "dns@4"]
    assert labels(history, listed(api, "until=2030-01-01T00:01:00Z")) == [
        "backup@0#2",
        "backup@0",
    ]


def test_since_and_until_read_offsets_and_take_utc_without_one(api, history):
    # 01:04 at +01:00 is 00:04 UTC; a time without an offset is UTC.
    assert labels(history, listed(api, "since=2030-01-01T01:04:00%2B01:00")) == [
        "mail@5",
        "dns@4",
    ]
    assert labels(history, listed(api, "until=2029-12-31T19:01:00-05:00")) == [
        "backup@0#2",
        "backup@0",
    ]
    assert labels(history, listed(api, "since=2030-01-01T00:05:00")) == ["mail@5"]
    assert len(listed(api, "since=2030-01-01")) == 7  # a date: its midnight


def test_filters_combine(api, jobs, history):
    query = "status=failed&status=succeeded&group=backups&since=2030-01-01T00:01:00Z"
    assert labels(history, listed(api, query)) == ["mail@5", "backup@3", "mail@2"]
    query = f"job={jobs['backup']}&status=succeeded&until=2030-01-01T00:03:00Z"
    assert labels(history, listed(api, query)) == ["backup@0#2"]
    assert listed(api, f"job={jobs['backup']}&product=mail") == []


def test_it_pages_with_limit_and_offset(api, history):
    everything = listed(api)
    first = api.get("/api/v1/runs?limit=3").json()
    assert first["count"] == 7
    assert first["previous"] is None
    assert [run["id"] for run in first["results"]] == everything[:3]
    second = api.get(first["next"]).json()
    assert [run["id"] for run in second["results"]] == everything[3:6]
    last = api.get(second["next"]).json()
    assert [run["id"] for run in last["results"]] == everything[6:]
    assert last["next"] is None
    filtered = api.get("/api/v1/runs?status=succeeded&limit=2&offset=1").json()
    assert filtered["count"] == 3
    assert labels(history, [run["id"] for run in filtered["results"]]) == [
        "backup@3",
        "backup@0#2",
    ]
    assert listed(api, "offset=7") == []


def test_another_users_runs_are_never_shown(api, bob_api, jobs, history):
    assert labels(history, listed(bob_api)) == ["bobs@5"]
    assert "bobs@5" not in labels(history, listed(api))
    # Bob's job id in Alice's filter: the answer of an unknown job, nothing about Bob's.
    response = api.get(f"/api/v1/runs?job={jobs['bobs']}")
    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert listed(bob_api, f"job={jobs['backup']}") == []


def test_view_all_jobs_and_superusers_see_everyones_runs(jobs, history, root):
    olivia = client_for(make_user("olivia", "jobs.view_all_jobs"))
    for client in (olivia, root):
        shown = labels(history, listed(client))
        assert shown[:2] == sorted(["mail@5", "bobs@5"], key=lambda label: history[label])
        assert sorted(shown) == sorted(history)
        assert labels(history, listed(client, f"job={jobs['bobs']}")) == ["bobs@5"]


def test_it_needs_credentials(jobs, history):
    response = APIClient().get("/api/v1/runs")
    assert response.status_code == 401
    assert "results" not in response.json()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=bogus", "status"),
        ("status=failed,succeeded", "status"),  # several statuses: repeat the parameter
        ("type=ftp", "type"),
        (f"job={'x' * 36}", "job"),
        ("job=42", "job"),
        ("since=yesterday", "since"),
        ("until=2030-02-30T00:00:00Z", "until"),
        ("since=2030-01-01T00:00:00+01:00", "since"),  # an unencoded "+" is a space
        ("since=0001-01-01T00:00:00%2B01:00", "since"),  # before year 1 in UTC
        ("until=9999-12-31T23:00:00-23:00", "until"),  # past 9999, and past PostgreSQL's offsets
        ("since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z", "until"),
        ("since=2030-01-01T00:00:00Z&until=2030-01-01T00:00:00Z", "until"),
        ("limit=0", "limit"),
        ("limit=100000", "limit"),
        ("offset=-1", "offset"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(api, history, query, field):
    response = api.get(f"/api/v1/runs?{query}")
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]


def test_a_runs_own_url_ignores_the_lists_filters(api, history):
    response = api.get(f"/api/v1/runs/{history['backup@3']}?status=bogus&since=x")
    assert response.status_code == 200
    assert response.json()["job_revision"] == 1  # the full form, not the list's


def test_a_page_is_the_same_few_queries_however_many_jobs_it_shows(api, alice):
    def page_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get("/api/v1/runs?limit=500").status_code == 200
        return len(queries)

    first = create(api, http_job(name="first"))
    add_run(first, 0)
    few = page_queries()
    for i in range(12):
        job = create(api, http_job(name=f"job-{i}"))
        for minute in range(3):
            add_run(job, minute)
    assert page_queries() == few
    # The token, the user's permissions and their groups' (whether they see every job),
    # the count and the page with each run's job name.
    assert few <= 5


def test_both_ways_to_find_a_page_give_the_same_runs_in_the_same_order(
    api, jobs, history, monkeypatch
):
    """Walking the due-time index (many matches) or sorting the matches (few):
    selectors.runs_newest_first picks one by the count; the answer is the same."""
    for minute in range(6, 12):
        add_run(jobs["backup"], minute, RunStatus.FAILED)
        add_run(jobs["dns"], minute)
    queries = ["", "status=failed", f"job={jobs['dns']}", "group=backups&limit=3&offset=2"]
    answers = []
    for sort_at_most in (0, 10**9):
        monkeypatch.setattr(selectors, "SORT_AT_MOST", sort_at_most)
        answers.append({query: listed(api, query) for query in queries})
    assert answers[0] == answers[1]
    runs = Run.objects.filter(job__owner__username="alice")
    newest_first = sorted(runs, key=lambda run: str(run.id))
    newest_first.sort(key=lambda run: (run.due_at, run.attempt), reverse=True)
    assert answers[0][""] == [str(run.id) for run in newest_first]


def test_the_schema_shows_the_filters_as_parameters(api):
    schema = api.get("/api/v1/schema?format=json").json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/runs"]["get"]["parameters"]}
    assert set(parameters) == {
        "status",
        "job",
        "type",
        "product",
        "group",
        "since",
        "until",
        "limit",
        "offset",
    }
    assert parameters["status"]["schema"]["type"] == "array"
    assert parameters["since"]["schema"]["format"] == "date-time"
    assert parameters["job"]["schema"]["format"] == "uuid"
    page = schema["paths"]["/api/v1/runs"]["get"]["responses"]["200"]["content"]
    item = page["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    listed_run = schema["components"]["schemas"][item]["properties"]["results"]["items"]
    fields = schema["components"]["schemas"][listed_run["$ref"].rsplit("/", 1)[1]]["properties"]
    assert set(fields) == LISTED
