"""/api/v1/channels and /api/v1/notify-rules: create, read, change, delete, test, deliveries.

Channels are owned like jobs: others' are 404, staff alone gives nothing. Test messages go
to a real loopback receiver (tests/target.py).
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.cache import cache

from jobs.api import throttles
from notifications.delivery import deliver
from notifications.models import Channel, Notification, Rule
from tests.users import client_for, grant

from .helpers import http_job, run_job

pytestmark = pytest.mark.django_db

HOOK = "https://hooks.example.com/sched"


def create(client, **body):
    body = {"name": "ops", "kind": "webhook", "url": HOOK, **body}
    response = client.post("/api/v1/channels", body, format="json")
    assert response.status_code == 201, response.data
    return response.json()


def errors(client, method: str, path: str, body) -> dict:
    response = getattr(client, method)(path, body, format="json")
    assert response.status_code == 400, (response.status_code, response.data)
    return response.json()


def test_it_creates_a_webhook_channel_and_never_shows_its_secret(api, alice):
    response = api.post(
        "/api/v1/channels",
        {"name": "ops", "kind": "webhook", "url": HOOK, "secret": "s3cret"},
        format="json",
    )
    assert response.status_code == 201, response.data
    body = response.json()
    assert set(body) == {
        "id",
        "link",
        "name",
        "kind",
        "url",
        "to",
        "has_secret",
        "created_at",
        "updated_at",
    }
    assert body["link"] == f"http://testserver/api/v1/channels/{body['id']}"
    assert response["Location"] == body["link"]
    assert (body["kind"], body["url"], body["to"], body["has_secret"]) == (
        "webhook",
        HOOK,
        [],
        True,
    )
    assert "s3cret" not in response.content.decode()
    shown = api.get(body["link"])
    assert "s3cret" not in shown.content.decode()
    assert shown.json()["has_secret"] is True
    assert Channel.objects.get(id=body["id"]).owner == alice
    assert Channel.objects.get(id=body["id"]).secret == "s3cret"


def test_it_creates_slack_and_email_channels(api):
    slack = create(api, kind="slack", url="https://hooks.slack.com/services/T/B/X")
    assert (slack["kind"], slack["has_secret"]) == ("slack", False)
    email = create(api, kind="email", url="", to=["ops@example.com", "a.b@example.org"])
    assert (email["url"], email["to"]) == ("", ["ops@example.com", "a.b@example.org"])


BAD_CHANNELS = [
    # (body, the field named)
    ({"kind": "webhook", "url": HOOK}, "name"),
    ({"name": "x", "url": HOOK}, "kind"),
    ({"name": "x", "kind": "pager", "url": HOOK}, "kind"),
    ({"name": "x", "kind": "webhook"}, "url"),
    ({"name": "x", "kind": "webhook", "url": ""}, "url"),
    ({"name": "x", "kind": "webhook", "url": "ftp://example.com/x"}, "url"),
    ({"name": "x", "kind": "webhook", "url": "not a url"}, "url"),
    ({"name": "x", "kind": "webhook", "url": "http://example.com:99999/"}, "url"),
    ({"name": "x", "kind": "webhook", "url": HOOK, "to": ["a@example.com"]}, "to"),
    ({"name": "x", "kind": "slack"}, "url"),
    ({"name": "x", "kind": "slack", "url": HOOK, "secret": "s"}, "secret"),
    ({"name": "x", "kind": "email"}, "to"),
    ({"name": "x", "kind": "email", "to": []}, "to"),
    ({"name": "x", "kind": "email", "to": ["not-an-address"]}, "to"),
    ({"name": "x", "kind": "email", "to": "ops@example.com"}, "to"),
    ({"name": "x", "kind": "email", "to": [f"u{i}@example.com" for i in range(11)]}, "to"),
    ({"name": "x", "kind": "email", "to": ["a@example.com"], "url": HOOK}, "url"),
    ({"name": "x", "kind": "email", "to": ["a@example.com"], "secret": "s"}, "secret"),
    ({"name": "x", "kind": "webhook", "url": HOOK, "color": "red"}, "color"),
    ({"name": "x" * 201, "kind": "webhook", "url": HOOK}, "name"),
]


@pytest.mark.parametrize(("body", "field"), BAD_CHANNELS)
def test_it_refuses_a_bad_channel_naming_the_field(api, body, field):
    assert field in errors(api, "post", "/api/v1/channels", body)
    assert not Channel.objects.exists()


def test_it_refuses_a_url_the_egress_policy_denies_its_owner(api, settings, django_user_model):
    settings.SCHED = {**settings.SCHED, "EGRESS_ALLOW": []}
    for url in ("http://127.0.0.1:8080/hook", "http://169.254.169.254/", "http://[::1]/"):
        assert "url" in errors(
            api, "post", "/api/v1/channels", {"name": "x", "kind": "webhook", "url": url}
        )
    opener = client_for(django_user_model.objects.create_user("opener", "o@example.com", "pw"))
    grant(django_user_model.objects.get(username="opener"), "jobs.unrestricted_egress")
    create(opener, url="http://127.0.0.1:8080/hook")


def test_it_changes_name_url_secret_and_addresses_but_not_the_kind(api):
    hook = create(api, secret="one")
    response = api.patch(
        hook["link"], {"name": "renamed", "url": "https://other.example.com/"}, format="json"
    )
    assert response.status_code == 200, response.data
    assert (response.json()["name"], response.json()["url"]) == (
        "renamed",
        "https://other.example.com/",
    )
    assert api.patch(hook["link"], {"secret": ""}, format="json").json()["has_secret"] is False
    assert api.patch(hook["link"], {"secret": "two"}, format="json").json()["has_secret"] is True
    assert Channel.objects.get(id=hook["id"]).secret == "two"
    assert "kind" in errors(api, "patch", hook["link"], {"kind": "slack"})
    assert "url" in errors(api, "patch", hook["link"], {"url": "gopher://x"})
    assert "to" in errors(api, "patch", hook["link"], {"to": ["a@example.com"]})
    email = create(api, kind="email", url="", to=["a@example.com"])
    changed = api.patch(email["link"], {"to": ["b@example.com"]}, format="json").json()
    assert changed["to"] == ["b@example.com"]
    assert "to" in errors(api, "patch", email["link"], {"to": []})
    assert "url" in errors(api, "patch", email["link"], {"url": HOOK})


def test_it_lists_the_callers_channels_and_deletes_one_with_its_rules(api, bob_api):
    first = create(api, name="a")
    create(api, name="b")
    create(bob_api, name="bobs")
    listed = api.get("/api/v1/channels").json()
    assert listed["count"] == 2
    assert [channel["name"] for channel in listed["results"]] == ["a", "b"]
    rule = api.post("/api/v1/notify-rules", {"channel": first["id"]}, format="json").json()
    assert api.delete(first["link"]).status_code == 204
    assert api.get(first["link"]).status_code == 404
    assert api.get(f"{first['link']}/deliveries").status_code == 404
    assert api.post(f"{first['link']}/test").status_code == 404
    assert api.patch(first["link"], {"name": "back"}, format="json").status_code == 404
    assert api.delete(first["link"]).status_code == 404
    assert api.get(rule["link"]).status_code == 404
    assert not Rule.objects.filter(id=rule["id"]).exists()


def test_others_channels_are_404_and_staff_alone_gives_no_power(api, bob_api, staff_api):
    channel = create(api)
    link = channel["link"]
    for client in (bob_api, staff_api):
        assert client.get("/api/v1/channels").json()["count"] == 0
        assert client.get(link).status_code == 404
        assert client.patch(link, {"name": "mine"}, format="json").status_code == 404
        assert client.post(f"{link}/test").status_code == 404
        assert client.get(f"{link}/deliveries").status_code == 404
        assert client.delete(link).status_code == 404
    assert Channel.objects.get(id=channel["id"]).name == "ops"


def test_view_all_jobs_shows_others_channels_but_changes_need_change_channel(api, charlie):
    channel = create(api)
    grant(charlie, "jobs.view_all_jobs")
    viewer = client_for(charlie)
    assert viewer.get(channel["link"]).json()["has_secret"] is False
    assert viewer.get(f"{channel['link']}/deliveries").status_code == 200
    response = viewer.patch(channel["link"], {"name": "x"}, format="json")
    assert response.status_code == 403
    assert "notifications.change_channel" in response.json()["detail"]
    assert viewer.delete(channel["link"]).status_code == 403
    grant(charlie, "notifications.change_channel")
    assert viewer.patch(channel["link"], {"name": "x"}, format="json").status_code == 200


def test_a_malformed_id_is_404(api):
    assert api.get("/api/v1/channels/not-a-uuid").status_code == 404
    assert api.post("/api/v1/channels/not-a-uuid/test").status_code == 404
    assert api.get("/api/v1/notify-rules/not-a-uuid").status_code == 404


def test_a_test_message_reaches_a_receiver_signed(api, target):
    channel = create(api, url=f"{target.url}/hook", secret="s3cret")
    response = api.post(f"{channel['link']}/test")
    assert response.status_code == 200, response.data
    answer = response.json()
    assert answer == {
        "delivered": True,
        "status_code": 200,
        "error": "",
        "notification": answer["notification"],
    }
    [request] = target.received
    assert request["path"] == "/hook"
    assert request["headers"]["X-Sched-Event"] == "test"
    assert request["headers"]["Idempotency-Key"] == answer["notification"]
    assert request["headers"]["X-Sched-Signature"].startswith("t=")
    from notifications.signing import verify

    timestamp = int(request["headers"]["X-Sched-Signature"].split(",")[0][2:])
    assert verify("s3cret", request["headers"]["X-Sched-Signature"], request["body"], now=timestamp)


def test_a_receiver_answering_500_is_not_delivered(api, target):
    channel = create(api, url=f"{target.url}/status/500")
    answer = api.post(f"{channel['link']}/test").json()
    assert (answer["delivered"], answer["status_code"]) == (False, 500)
    assert "500" in answer["error"]
    assert Notification.objects.get(id=answer["notification"]).status == "failed"


def test_a_test_email_is_sent_to_the_addresses(api):
    channel = create(api, kind="email", url="", to=["ops@example.com"])
    answer = api.post(f"{channel['link']}/test").json()
    assert (answer["delivered"], answer["status_code"], answer["error"]) == (True, None, "")
    [message] = mail.outbox
    assert message.to == ["ops@example.com"]
    assert message.extra_headers["Idempotency-Key"] == answer["notification"]


def test_deliveries_list_each_attempt_newest_first(api, target):
    channel = create(api, url=f"{target.url}/status/500")
    job = run_job(
        api,
        http_job(
            "1s",
            task={"method": "GET", "uri": f"{target.url}/status/503"},
            notify=[{"channel": channel["id"]}],
        ),
    )
    notification = Notification.objects.get(job=job)
    assert deliver(str(notification.id)) == "pending"  # the receiver answered 500: retried
    api.post(f"{channel['link']}/test")
    page = api.get(f"{channel['link']}/deliveries").json()
    assert page["count"] == 2
    newest, oldest = page["results"]
    assert set(oldest) == {
        "id",
        "notification",
        "event",
        "job",
        "run",
        "attempt",
        "at",
        "delivered",
        "status_code",
        "error",
        "duration_ms",
    }
    assert (newest["event"], newest["job"], newest["run"]) == ("test", None, None)
    assert (oldest["event"], oldest["job"], oldest["run"]) == (
        "failure",
        str(job.id),
        str(job.last_run_id),
    )
    assert (oldest["notification"], oldest["attempt"]) == (str(notification.id), 1)
    assert (oldest["delivered"], oldest["status_code"]) == (False, 500)


def test_channel_tests_are_throttled_per_user(api, bob_api, settings, monkeypatch, target):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "channel_test": "2/day"}
    monkeypatch.setattr(throttles, "_cache_down_until", 0.0)
    cache.clear()
    link = create(api, url=f"{target.url}/hook")["link"]
    statuses = [api.post(f"{link}/test").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert api.get(link).status_code == 200  # other requests are not counted there
    bobs = create(bob_api, url=f"{target.url}/hook")["link"]
    assert bob_api.post(f"{bobs}/test").status_code == 200
    assert len(target.received) == 3


def test_a_user_has_at_most_max_channels_and_rules(api, root, settings):
    settings.MAX_CHANNELS_PER_USER = 2
    settings.MAX_RULES_PER_USER = 1
    channel = create(api)
    create(api, name="second")
    body = errors(api, "post", "/api/v1/channels", {"name": "3", "kind": "slack", "url": HOOK})
    assert "MAX_CHANNELS_PER_USER=2" in body["detail"]
    assert Channel.objects.filter(name="3").count() == 0
    rule = {"channel": channel["id"], "on": ["failure"]}
    assert api.post("/api/v1/notify-rules", rule, format="json").status_code == 201
    body = errors(api, "post", "/api/v1/notify-rules", rule)
    assert "MAX_RULES_PER_USER=1" in body["detail"]
    assert Rule.objects.count() == 1
    # Superusers are not held to it.
    for name in ("a", "b", "c"):
        create(root, name=name)
