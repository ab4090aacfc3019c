"""Errors a newcomer meets in the first hour say what to do: a misspelt field, a body sent
as a form, a Bearer token, a trailing slash, a time zone, a misspelt filter."""

from __future__ import annotations

import json

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from jobs.models import Job

from .helpers import TARGET, http_job

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


# --- unknown fields name themselves and the field meant ----------------------


def test_a_task_with_url_for_uri_says_unknown_field_url_and_suggests_uri(api):
    response = api.post("/api/v1/jobs", {"task": {"url": TARGET}, "schedule": "1h"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"task": {"url": ["Unknown field 'url'. Did you mean 'uri'?"]}}


def test_an_http_task_with_url_says_the_same(api):
    body = {"task": {"type": "http", "url": TARGET}, "schedule": "1h"}
    response = api.post("/api/v1/jobs", body, format="json")
    assert response.json()["task"] == {"url": ["Unknown field 'url'. Did you mean 'uri'?"]}


def test_a_misspelt_job_field_suggests_the_field(api):
    body = {"task": {"uri": TARGET}, "schedule": "1h", "schedul": "1h"}
    response = api.post("/api/v1/jobs", body, format="json")
    assert response.json() == {"schedul": ["Unknown field 'schedul'. Did you mean 'schedule'?"]}


def test_an_unknown_field_like_no_other_is_named_alone(api):
    body = {**http_job(), "zzz": 1}
    assert api.post("/api/v1/jobs", body, format="json").json() == {"zzz": ["Unknown field 'zzz'."]}


def test_a_task_without_a_type_names_the_types_that_take_its_fields(coder):
    def error(task):
        response = coder.post("/api/v1/jobs", {"task": task, "schedule": "1h"}, format="json")
        return response.json()["task"]["type"]

    assert error({"image": "alpine:3"}) == ['Give the task a type: "docker" takes these fields.']
    assert error({"command": ["true"]}) == [
        'Give the task a type: "command" or "docker" (they take these fields).'
    ]
    assert error({})[0].startswith("Give the task a type: one of catalog, ")


# --- a body that is not JSON -------------------------------------------------


def test_json_sent_as_a_form_is_a_415_saying_to_send_json(api):
    """What `curl -d '{...}'` without -H 'Content-Type: application/json' sends."""
    response = api.post(
        "/api/v1/jobs",
        json.dumps(http_job()),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 415
    detail = response.json()["detail"]
    assert "looks like JSON" in detail
    assert '"Content-Type: application/json"' in detail
    assert not Job.objects.exists()


def test_a_body_without_a_content_type_is_a_415_saying_to_send_json(api):
    response = api.generic("POST", "/api/v1/jobs", json.dumps(http_job()), content_type="")
    assert response.status_code == 415
    assert response.json()["detail"] == (
        'The body came without a Content-Type: send JSON with "Content-Type: application/json".'
    )


def test_a_body_of_another_type_is_a_415_naming_it(api):
    response = api.post("/api/v1/jobs", json.dumps(http_job()), content_type="text/plain")
    assert response.status_code == 415
    assert "'text/plain'" in response.json()["detail"]
    assert "application/json" in response.json()["detail"]


def test_a_real_form_is_still_taken(api):
    """The browsable API posts forms: a form body is parsed as one (and validated)."""
    response = api.post("/api/v1/jobs", {"name": "x"})  # multipart, no task
    assert response.status_code == 400
    assert "task" in response.json()


# --- Bearer is a synonym of Token --------------------------------------------


def test_a_bearer_token_authenticates_like_a_token(alice):
    key = Token.objects.create(user=alice).key
    for scheme in ("Bearer", "bearer", "Token"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
        response = client.post("/api/v1/jobs", http_job(), format="json")
        assert response.status_code == 201, (scheme, response.data)
        assert response.json()["owner"] == "alice"


def test_a_wrong_bearer_token_is_a_401_naming_the_scheme(alice):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer nope")
    response = client.get("/api/v1/jobs")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": "Invalid token."}


# --- a path no endpoint has is a JSON 404 ------------------------------------


@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
def test_a_trailing_slash_is_a_json_404_giving_the_path_without_it(api, method):
    job = api.post("/api/v1/jobs", http_job(), format="json").json()
    response = getattr(api, method)(f"/api/v1/jobs/{job['id']}/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"] == (
        f"No such endpoint: {method.upper()} /api/v1/jobs/{job['id']}/. "
        f"The API's paths have no trailing slash: /api/v1/jobs/{job['id']}"
    )


@pytest.mark.parametrize("path", ["/api/v1/jobs/", "/api/v1/", "/api/v1/nothing", "/api/v2/jobs"])
def test_any_unknown_path_under_api_is_a_json_404(client, path):
    response = client.get(path)  # no credentials either: a 404, in JSON
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith(f"No such endpoint: GET {path}.")


def test_an_unknown_path_written_to_with_a_session_cookie_is_a_json_404_not_a_csrf_page(
    alice,
):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)  # as a browser logged into the admin is
    browser.force_login(alice)
    response = browser.patch(
        "/api/v1/products/groups/jobs/x", '{"name": "n"}', content_type="application/json"
    )
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


# --- time zones --------------------------------------------------------------


@pytest.mark.parametrize(
    "zone, meant",
    [
        ("europe/paris", "'Europe/Paris'"),
        ("Tokyo", "'Asia/Tokyo'"),
        ("America/New_Yrok", "'America/New_York'"),
    ],
)
def test_an_unknown_time_zone_suggests_close_names(api, zone, meant):
    body = http_job({"cron": "0 3 * * *"}, timezone=zone)
    response = api.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 400
    assert response.json()["timezone"] == [f"unknown time zone '{zone}': did you mean {meant}?"]
    preview = api.post(
        "/api/v1/schedules/preview", {"schedule": "1h", "timezone": zone}, format="json"
    )
    assert meant in preview.json()["timezone"][0]


# --- unknown query parameters ------------------------------------------------


def test_a_misspelt_filter_is_a_400_naming_it(api):
    api.post("/api/v1/jobs", http_job(), format="json")
    response = api.get("/api/v1/jobs?stauts=failed")
    assert response.status_code == 400
    (message,) = response.json()["stauts"]
    assert message.startswith("Unknown query parameter. Did you mean 'status'? Known: ")
    assert "last_run_status" in message and "limit" in message and "format" in message


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/runs?job_id=1",
        "/api/v1/channels?name=x",
        "/api/v1/notify-rules?channel=x",
        "/api/v1/products/p/groups/g/jobs?page=2",
    ],
)
def test_every_list_refuses_unknown_parameters(api, url):
    response = api.get(url)
    assert response.status_code == 400
    assert url.split("?")[1].split("=")[0] in response.json()


def test_a_job_s_runs_take_no_filter(api):
    job = api.post("/api/v1/jobs", http_job(), format="json").json()
    response = api.get(f"/api/v1/jobs/{job['id']}/runs?status=failed")
    assert response.status_code == 400
    assert "status" in response.json()
    assert api.get(f"/api/v1/jobs/{job['id']}/runs?limit=5&offset=0").status_code == 200


def test_known_parameters_are_taken(api):
    ok = [
        "/api/v1/jobs?status=scheduled&type=http&limit=5&offset=0&name__contains=x",
        "/api/v1/jobs?format=json",
        "/api/v1/runs?status=failed&since=2030-01-01T00:00:00Z&limit=10",
        "/api/v1/channels?limit=1",
    ]
    for url in ok:
        assert api.get(url).status_code == 200, url
    assert api.get("/api/v1/jobs?format=api", HTTP_ACCEPT="text/html").status_code == 200
