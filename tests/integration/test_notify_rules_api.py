"""/api/v1/notify-rules: rules on all of a user's jobs, or those of a product and group."""

from __future__ import annotations

import pytest

from notifications.models import Rule

pytestmark = pytest.mark.django_db


def channel(client, name="ops") -> str:
    body = {"name": name, "kind": "webhook", "url": "https://hooks.example.com/x"}
    response = client.post("/api/v1/channels", body, format="json")
    assert response.status_code == 201, response.data
    return response.json()["id"]


def test_it_creates_reads_changes_and_deletes_a_rule(api, alice):
    ops = channel(api)
    response = api.post(
        "/api/v1/notify-rules", {"channel": ops, "product": "vps4", "group": ""}, format="json"
    )
    assert response.status_code == 201, response.data
    rule = response.json()
    assert (
        response["Location"]
        == rule["link"]
        == f"http://testserver/api/v1/notify-rules/{rule['id']}"
    )
    assert (rule["channel"], rule["on"], rule["every_failure"]) == (
        ops,
        ["failure", "recovery"],
        False,
    )
    assert (rule["product"], rule["group"]) == ("vps4", "")
    stored = Rule.objects.get(id=rule["id"])
    assert (stored.owner, stored.job) == (alice, None)
    changed = api.patch(
        rule["link"], {"on": ["failure", "paused"], "every_failure": True}, format="json"
    ).json()
    assert (changed["on"], changed["every_failure"], changed["product"]) == (
        ["failure", "paused"],
        True,
        "vps4",
    )
    assert [r["id"] for r in api.get("/api/v1/notify-rules").json()["results"]] == [rule["id"]]
    assert api.delete(rule["link"]).status_code == 204
    assert not Rule.objects.exists()
    assert api.get(rule["link"]).status_code == 404
    assert api.patch(rule["link"], {"every_failure": False}, format="json").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "channel"),
        ({"channel": "nope"}, "channel"),
        ({"on": ["fire"]}, "on"),
        ({"on": []}, "on"),
        ({"on": ["failure", "failure"]}, "on"),
        ({"on": "failure"}, "on"),
        ({"every_failure": "often"}, "every_failure"),
        ({"product": "p" * 101}, "product"),
        ({"job": "x"}, "job"),
    ],
)
def test_it_refuses_a_bad_rule_naming_the_field(api, body, field):
    if field != "channel":
        body = {"channel": channel(api), **body}
    response = api.post("/api/v1/notify-rules", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Rule.objects.exists()


def test_a_rule_may_not_name_anothers_channel_and_says_nothing_of_it(api, bob_api):
    bobs = channel(bob_api)
    response = api.post("/api/v1/notify-rules", {"channel": bobs}, format="json")
    assert response.status_code == 400
    nobodys = api.post(
        "/api/v1/notify-rules", {"channel": "00000000-0000-0000-0000-000000000000"}, format="json"
    )
    assert response.json() == nobodys.json()  # the same answer: bob's channel is not told
    mine = api.post("/api/v1/notify-rules", {"channel": channel(api)}, format="json").json()
    assert "channel" in api.patch(mine["link"], {"channel": bobs}, format="json").json()


def test_others_rules_are_404_and_a_jobs_rules_are_not_listed_here(api, bob_api, staff_api):
    ops = channel(api)
    rule = api.post("/api/v1/notify-rules", {"channel": ops}, format="json").json()
    for client in (bob_api, staff_api):
        assert client.get("/api/v1/notify-rules").json()["count"] == 0
        assert client.get(rule["link"]).status_code == 404
        assert client.delete(rule["link"]).status_code == 404
    job = {
        "task": {"uri": "http://127.0.0.1:9/x"},
        "schedule": "in 1h",
        "notify": [{"channel": ops}],
    }
    assert api.post("/api/v1/jobs", job, format="json").status_code == 201
    assert api.get("/api/v1/notify-rules").json()["count"] == 1
