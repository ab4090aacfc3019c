"""A job's `notify` (its own rules), `pause_after_failures`, `health` and the filters."""

from __future__ import annotations

import pytest

from jobs.models import Job
from notifications.models import Rule
from tests.users import client_for, grant

from .helpers import http_job, run_job

pytestmark = pytest.mark.django_db


def channel(client, name="ops") -> str:
    body = {"name": name, "kind": "webhook", "url": "https://hooks.example.com/x"}
    response = client.post("/api/v1/channels", body, format="json")
    assert response.status_code == 201, response.data
    return response.json()["id"]


def create(client, path="/api/v1/jobs", **extra):
    response = client.post(path, http_job(**extra), format="json")
    assert response.status_code == 201, response.data
    return response.json()


def bad(client, method: str, path: str, body) -> dict:
    response = getattr(client, method)(path, body, format="json")
    assert response.status_code == 400, (response.status_code, response.data)
    return response.json()


def test_a_new_job_is_of_unknown_health_with_no_rules(api):
    job = create(api)
    assert (job["health"], job["consecutive_failures"]) == ("unknown", 0)
    assert (job["pause_after_failures"], job["notify"]) == (None, [])


def test_notify_is_stored_as_the_jobs_rules_and_shown(api, alice):
    ops, pager = channel(api), channel(api, "pager")
    job = create(
        api,
        notify=[{"channel": ops}, {"channel": pager, "on": ["failure"], "every_failure": True}],
    )
    assert job["notify"] == [
        {"channel": ops, "on": ["failure", "recovery"], "every_failure": False},
        {"channel": pager, "on": ["failure"], "every_failure": True},
    ]
    rules = Rule.objects.filter(job_id=job["id"]).order_by("created_at")
    assert [(str(r.channel_id), r.owner, r.product, r.group) for r in rules] == [
        (ops, alice, "", ""),
        (pager, alice, "", ""),
    ]
    assert api.get(job["link"]).json()["notify"] == job["notify"]


def test_patching_notify_replaces_the_rules_and_leaves_the_planned_fires(api):
    ops, pager = channel(api), channel(api, "pager")
    job = create(api, schedule={"every": "1h"}, notify=[{"channel": ops}])
    response = api.patch(
        job["link"], {"notify": [{"channel": pager, "on": ["success"]}]}, format="json"
    )
    assert response.status_code == 200, response.data
    changed = response.json()
    assert changed["notify"] == [{"channel": pager, "on": ["success"], "every_failure": False}]
    assert (changed["revision"], changed["next_run_at"]) == (job["revision"], job["next_run_at"])
    assert Rule.objects.filter(job_id=job["id"]).count() == 1
    assert (
        api.patch(job["link"], {"name": "x"}, format="json").json()["notify"] == changed["notify"]
    )
    assert api.patch(job["link"], {"notify": []}, format="json").json()["notify"] == []
    assert not Rule.objects.filter(job_id=job["id"]).exists()
    # An item of a PATCH is a whole rule: its defaults, and its channel required.
    changed = api.patch(job["link"], {"notify": [{"channel": ops}]}, format="json").json()
    assert changed["notify"] == [
        {"channel": ops, "on": ["failure", "recovery"], "every_failure": False}
    ]
    error = bad(api, "patch", job["link"], {"notify": [{"on": ["failure"]}]})
    assert "channel" in error["notify"]["0"]


BAD_NOTIFY = [
    # (notify, the path of the error under "notify": a rule's index, as DRF names items)
    ([{"channel": "CHANNEL", "on": ["fire"]}], ("0", "on")),
    ([{"channel": "CHANNEL"}, {"channel": "CHANNEL", "on": ["failure", "failure"]}], ("1", "on")),
    ([{"channel": "CHANNEL", "on": []}], ("0", "on")),
    ([{"channel": "CHANNEL", "on": "failure"}], ("0", "on")),
    ([{"channel": "not-a-uuid"}], ("0", "channel")),
    ([{"channel": "00000000-0000-0000-0000-000000000000"}], ("0", "channel")),
    ([{"on": ["failure"]}], ("0", "channel")),
    ([{"channel": "CHANNEL", "when": "always"}], ("0", "when")),
    ([{"channel": "CHANNEL", "every_failure": "sometimes"}], ("0", "every_failure")),
    ([{"channel": "CHANNEL"}] * 21, ()),
    ({"channel": "CHANNEL"}, ()),
    (None, ()),
]


@pytest.mark.parametrize(("notify", "path"), BAD_NOTIFY)
def test_a_bad_notify_is_a_400_naming_the_rule_and_field(api, notify, path):
    ops = channel(api)

    def fill(value):
        if isinstance(value, list):
            return [fill(item) for item in value]
        if isinstance(value, dict):
            return {key: ops if item == "CHANNEL" else item for key, item in value.items()}
        return value

    error = bad(api, "post", "/api/v1/jobs", http_job(notify=fill(notify)))["notify"]
    for step in path:
        error = error[step]
    assert error
    assert not Job.objects.exists()
    assert not Rule.objects.exists()


def test_notify_may_name_only_the_jobs_owners_channels(api, bob_api, charlie):
    bobs = channel(bob_api)
    error = bad(api, "post", "/api/v1/jobs", http_job(notify=[{"channel": bobs}]))
    assert "channel" in error["notify"]["0"]
    job = create(api)
    assert "notify" in bad(api, "patch", job["link"], {"notify": [{"channel": bobs}]})
    # An operator changing alice's job names alice's channels, not their own.
    grant(charlie, "jobs.view_all_jobs", "jobs.change_job")
    operator = client_for(charlie)
    assert "notify" in bad(
        operator, "patch", job["link"], {"notify": [{"channel": channel(operator)}]}
    )
    response = operator.patch(job["link"], {"notify": [{"channel": channel(api)}]}, format="json")
    assert response.status_code == 200, response.data
    assert Rule.objects.get(job_id=job["id"]).owner.username == "alice"


def test_the_namespaced_routes_take_and_show_notify(api):
    ops = channel(api)
    path = "/api/v1/products/vps4/groups/dns/jobs"
    job = create(
        api, path=path, notify=[{"channel": ops}], pause_after_failures=3, schedule={"every": "1h"}
    )
    shown = api.get(f"{path}/{job['id']}").json()
    assert shown["notify"][0]["channel"] == ops
    assert (shown["pause_after_failures"], shown["health"]) == (3, "unknown")
    listed = api.get(path).json()["results"]
    assert listed[0]["notify"] == shown["notify"]


def test_pause_after_failures_is_for_recurring_jobs_from_1_to_1000(api):
    job = create(api, schedule={"every": "1h"}, pause_after_failures=5)
    assert job["pause_after_failures"] == 5
    changed = api.patch(job["link"], {"pause_after_failures": None}, format="json").json()
    assert (changed["pause_after_failures"], changed["revision"]) == (None, job["revision"])
    for value in (0, 1001, -1, "many", 2.5):
        body = http_job(schedule={"every": "1h"}, pause_after_failures=value)
        assert "pause_after_failures" in bad(api, "post", "/api/v1/jobs", body)
    once = http_job("in 1h", pause_after_failures=3)
    assert "pause_after_failures" in bad(api, "post", "/api/v1/jobs", once)
    one_off = create(api, schedule="in 1h")
    assert "pause_after_failures" in bad(api, "patch", one_off["link"], {"pause_after_failures": 3})
    # Made recurring in the same change: allowed.
    response = api.patch(
        one_off["link"], {"schedule": {"every": "1h"}, "pause_after_failures": 3}, format="json"
    )
    assert response.status_code == 200, response.data


def test_the_list_filters_by_health_and_last_run_status(api, target):
    failing = run_job(api, http_job("1s", name="failing", task={"uri": f"{target.url}/status/500"}))
    ok = run_job(api, http_job("1s", name="ok", task={"uri": f"{target.url}/hook"}))
    create(api, name="unknown")
    assert (failing.health, failing.consecutive_failures, ok.health) == ("failing", 1, "ok")

    def names(query: str) -> list[str]:
        response = api.get(f"/api/v1/jobs?{query}")
        assert response.status_code == 200, response.data
        return sorted(job["name"] for job in response.json()["results"])

    assert names("health=failing") == ["failing"]
    assert names("health=ok&health=unknown") == ["ok", "unknown"]
    assert names("last_run_status=failed") == ["failing"]
    assert names("last_run_status=succeeded&last_run_status=failed") == ["failing", "ok"]
    shown = api.get(f"/api/v1/jobs/{failing.id}").json()
    assert (shown["health"], shown["consecutive_failures"]) == ("failing", 1)
    assert "health" in api.get("/api/v1/jobs?health=sick").json()
    assert "last_run_status" in api.get("/api/v1/jobs?last_run_status=bad").json()
