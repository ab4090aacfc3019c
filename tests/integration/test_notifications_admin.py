"""The admin's notifications: channels without their secrets, the outbox and its attempts
read-only, staff seeing only their own; the job list's health column and filter."""

from __future__ import annotations

import pytest

from jobs.models import Job
from notifications.models import Channel, Notification
from tests.users import grant

from .helpers import http_job, run_job

pytestmark = pytest.mark.django_db


def channel(client, **body) -> dict:
    body = {"name": "ops", "kind": "webhook", "url": "https://hooks.example.com/x", **body}
    response = client.post("/api/v1/channels", body, format="json")
    assert response.status_code == 201, response.data
    return response.json()


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    return client


def test_a_channels_page_never_shows_its_secret(api, admin_client):
    ops = channel(api, secret="s3cret-value")
    listing = admin_client.get("/admin/notifications/channel/").content.decode()
    assert "ops" in listing
    page = admin_client.get(f"/admin/notifications/channel/{ops['id']}/change/")
    assert page.status_code == 200
    assert "s3cret-value" not in page.content.decode()
    admin_client.post(
        f"/admin/notifications/channel/{ops['id']}/change/", {"name": "renamed", "secret": "x"}
    )
    stored = Channel.objects.get(id=ops["id"])
    assert (stored.name, stored.secret) == ("renamed", "s3cret-value")


def test_notifications_and_attempts_are_read_only_and_filtered(api, admin_client, target):
    ops = channel(api, url=f"{target.url}/status/500")
    answer = api.post(f"{ops['link']}/test").json()
    run_job(
        api,
        http_job("1s", task={"uri": f"{target.url}/status/500"}, notify=[{"channel": ops["id"]}]),
    )
    listing = admin_client.get("/admin/notifications/notification/?status__exact=failed")
    assert answer["notification"] in listing.content.decode()
    failures = admin_client.get("/admin/notifications/notification/?event__exact=failure")
    assert answer["notification"] not in failures.content.decode()
    assert Notification.objects.filter(event="failure").exists()
    page = admin_client.get(f"/admin/notifications/notification/{answer['notification']}/change/")
    assert page.status_code == 200
    assert "The receiver answered 500" in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    deliveries = admin_client.get("/admin/notifications/delivery/?delivered__exact=0")
    assert deliveries.status_code == 200
    assert "500" in deliveries.content.decode()


def test_staff_see_only_their_own_channels(api, client, charlie):
    channel(api, name="alices-channel")
    grant(charlie, "notifications.view_channel", "notifications.change_channel")
    client.force_login(charlie)
    assert "alices-channel" not in client.get("/admin/notifications/channel/").content.decode()
    grant(charlie, "jobs.view_all_jobs")
    assert "alices-channel" in client.get("/admin/notifications/channel/").content.decode()


def test_the_job_list_shows_and_filters_health(api, admin_client, target):
    failing = run_job(
        api, http_job("1s", name="failing-job", task={"uri": f"{target.url}/status/500"})
    )
    api.post("/api/v1/jobs", http_job(name="quiet-job"), format="json")
    assert Job.objects.get(id=failing.id).health == "failing"
    page = admin_client.get("/admin/jobs/job/?health__exact=failing").content.decode()
    assert "failing-job" in page and "quiet-job" not in page
    assert "consecutive" in admin_client.get("/admin/jobs/job/").content.decode().lower()
