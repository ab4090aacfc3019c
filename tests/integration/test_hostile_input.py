"""Hostile input: text PostgreSQL cannot store, deep JSON, out-of-range paging. Each is a
400 naming the field or parameter, changes nothing, and is never a 500."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from jobs import services
from jobs.models import Job

from .helpers import TARGET, http_job

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

NUL = "\u0000"
SURROGATE = "\ud800"


def post_json(client, url: str, body, method: str = "post"):
    """Send `body` as JSON text with \\u escapes (a lone surrogate cannot be UTF-8)."""
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


def error_at(body, path: tuple) -> list:
    """The error messages at `path` of a DRF error body; fails if there are none."""
    node = body
    for key in path:
        assert isinstance(node, dict) and str(key) in node, (path, body)
        node = node[str(key)]
    assert isinstance(node, list) and node and all(isinstance(m, str) for m in node), body
    return node


def task(**fields):
    return {"method": "POST", "uri": TARGET, **fields}


BAD_TEXT = [
    # (body, error path)
    ({"task": task(headers={"X-A": "a" + NUL}), "schedule": "now"}, ("task", "headers", "X-A")),
    ({"task": task(headers={"X-A" + NUL: "a"}), "schedule": "now"}, ("task", "headers")),
    ({"task": task(body={"a": ["ok", SURROGATE]}), "schedule": "now"}, ("task", "body", "a", 1)),
    ({"task": task(body="x" + NUL), "schedule": "now"}, ("task", "body")),
    ({"task": task(uri=TARGET + NUL), "schedule": "now"}, ("task", "uri")),
    ({"task": task(), "schedule": "now", "payload": {"k": NUL}}, ("payload", "k")),
    ({"task": task(), "schedule": "now", "payload": {SURROGATE: 1}}, ("payload",)),
    ({"task": task(), "schedule": "now", "name": "n" + NUL}, ("name",)),
    ({"task": task(), "schedule": "now", "name": SURROGATE}, ("name",)),
    ({"task": task(), "schedule": "now", "product": NUL}, ("product",)),
    ({"task": task(), "schedule": "now", "group": "g" + SURROGATE}, ("group",)),
    ({"task": task(), "schedule": "in 1h" + NUL}, ("schedule",)),
    ({"task": task(), "schedule": {"cron": "* * * * *" + NUL}}, ("schedule", "cron")),
    ({"task": task(), "schedule": "now", "timezone": "UTC" + NUL}, ("timezone",)),
    ({"task": task(), "schedule": "now", "timeout": "5m" + SURROGATE}, ("timeout",)),
    ({"task": task(), "schedule": "now", "retry": {"delay": NUL}}, ("retry", "delay")),
    (
        {"task": {"type": "catalog", "name": "sched.echo" + NUL}, "schedule": "now"},
        ("task", "name"),
    ),
]


@pytest.mark.parametrize(("body", "path"), BAD_TEXT)
def test_it_refuses_nul_and_lone_surrogates_naming_the_field(api, body, path):
    response = post_json(api, "/api/v1/jobs", body)
    assert response.status_code == 400, response.content
    (message,) = error_at(response.json(), path)
    assert "NUL" in message or "surrogate" in message
    assert not Job.objects.exists()


def test_it_refuses_nul_in_a_change_and_changes_nothing(api):
    job = api.post("/api/v1/jobs", http_job(), format="json").json()
    url = f"/api/v1/jobs/{job['id']}"
    response = post_json(api, url, {"name": "x" + NUL, "task": task(body=NUL)}, "patch")
    assert response.status_code == 400, response.content
    error_at(response.json(), ("name",))
    after = api.get(url).json()
    assert after["name"] == job["name"] and after["revision"] == job["revision"]
    assert after["task"] == job["task"]


def test_it_refuses_nul_in_a_schedule_preview(api):
    response = post_json(api, "/api/v1/schedules/preview", {"schedule": {"every": NUL}})
    assert response.status_code == 400, response.content
    error_at(response.json(), ("schedule", "every"))


def test_it_refuses_bad_text_in_form_fields(api):
    """The browsable API posts forms; their JSON fields are checked like a JSON body."""
    form = {"task": json.dumps(task(headers={"X-A": NUL})), "schedule": "now"}
    response = api.post("/api/v1/jobs", form)  # multipart
    assert response.status_code == 400, response.content
    error_at(response.json(), ("task", "headers", "X-A"))
    response = api.post("/api/v1/jobs", {"task": json.dumps(task()), "schedule": "n" + NUL})
    assert response.status_code == 400, response.content
    error_at(response.json(), ("schedule",))
    assert not Job.objects.exists()


def nested(depth: int, leaf="x") -> object:
    value: object = leaf
    for _ in range(depth):
        value = [value]
    return value


def deep_text(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [65, 1_000, 100_000])
def test_it_refuses_json_nested_deeper_than_the_limit(api, depth):
    text = f'{{"task": {{"method": "POST", "uri": "{TARGET}", "body": {deep_text(depth)}}}, '
    text += '"schedule": "now"}'
    response = api.post("/api/v1/jobs", data=text, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert "64 levels" in response.json()["detail"]
    assert not Job.objects.exists()


def test_json_at_the_depth_limit_is_taken_and_one_more_level_is_not(api):
    # The body object is level 1, task 2, its body 3: 62 more levels make 64.
    body = {"task": task(body=nested(62)), "schedule": "in 1h"}
    response = post_json(api, "/api/v1/jobs", body)
    assert response.status_code == 201, response.content[:300]
    body = {"task": task(body=nested(63)), "schedule": "in 1h"}
    assert post_json(api, "/api/v1/jobs", body).status_code == 400
    assert Job.objects.count() == 1


def test_brackets_inside_strings_do_not_count_as_nesting(api):
    body = {"task": task(body={"text": "[{" * 5_000}), "schedule": "in 1h"}
    assert post_json(api, "/api/v1/jobs", body).status_code == 201


@override_settings(API_MAX_JSON_DEPTH=5)
def test_the_depth_limit_is_a_setting(api):
    response = post_json(api, "/api/v1/jobs", {"task": task(body=nested(5)), "schedule": "now"})
    assert response.status_code == 400
    assert "5 levels" in response.json()["detail"]


def test_it_refuses_a_deep_json_text_in_a_form_field(api):
    text = f'{{"method": "POST", "uri": "{TARGET}", "body": {deep_text(5_000)}}}'
    form = {"task": text, "schedule": "now"}
    response = api.post("/api/v1/jobs", form)
    assert response.status_code == 400, response.content[:300]
    assert "64 levels" in error_at(response.json(), ("task",))[0]


@pytest.mark.parametrize("value", ["NaN", "-Infinity", "1e999"])
def test_it_refuses_numbers_that_are_not_json(api, value):
    """jsonb cannot hold them: NaN is not JSON, 1e999 would be an infinite float."""
    text = f'{{"task": {{"uri": "{TARGET}", "body": {{"x": {value}}}}}, "schedule": "in 1h"}}'
    response = api.post("/api/v1/jobs", data=text, content_type="application/json")
    assert response.status_code == 400, response.content
    assert not Job.objects.exists()


def test_it_reads_json_as_utf8_whatever_charset_is_named(api):
    body = {"task": {"uri": TARGET}, "schedule": "now", "name": "\\ud800"}  # a backslash
    response = api.post(
        "/api/v1/jobs",
        data=json.dumps(body).encode(),
        content_type="application/json; charset=unicode_escape",
    )
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "\\ud800"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=99999999999999999999", "limit"),
        ("limit=9223372036854775808", "limit"),
        ("limit=-1", "limit"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("limit=1_0", "limit"),
        ("limit=", "limit"),
        ("limit=501", "limit"),
        ("limit=1000000", "limit"),
        ("offset=99999999999999999999", "offset"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
        ("name__contains=%00", "name__contains"),
        ("name=a%00", "name"),
        ("product=%00", "product"),
        ("group=%00", "group"),
        ("status=%00", "status"),
        ("type=%00", "type"),
    ],
)
def test_the_job_list_refuses_bad_parameters_naming_them(api, query, parameter):
    api.post("/api/v1/jobs", http_job(), format="json")
    response = api.get(f"/api/v1/jobs?{query}")
    assert response.status_code == 400, response.content
    error_at(response.json(), (parameter,))


def test_a_lone_surrogate_in_the_query_string_is_refused(api):
    """A request's charset also decodes its query string: unicode_escape makes \\ud800 a
    lone surrogate, which the database driver cannot encode."""
    response = api.generic(
        "GET",
        "/api/v1/jobs?name__contains=%5Cud800",
        content_type="text/plain; charset=unicode_escape",
    )
    assert response.status_code == 400, response.content
    assert "surrogate" in error_at(response.json(), ("name__contains",))[0]


def test_a_limit_over_the_cap_names_the_cap(api):
    response = api.get("/api/v1/jobs?limit=501")
    assert "500" in response.json()["limit"][0]


def test_a_limit_at_the_cap_is_taken(api):
    for _ in range(3):
        api.post("/api/v1/jobs", http_job(), format="json")
    response = api.get("/api/v1/jobs?limit=500&offset=1")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 2
    response = api.get("/api/v1/jobs?offset=9223372036854775807")
    assert response.status_code == 200 and response.json()["results"] == []


@override_settings(API_MAX_PAGE_SIZE=2)
def test_the_page_size_cap_is_a_setting(api):
    assert api.get("/api/v1/jobs?limit=3").status_code == 400
    for _ in range(3):
        api.post("/api/v1/jobs", http_job(), format="json")
    assert len(api.get("/api/v1/jobs").json()["results"]) == 2  # the default page, capped


def test_the_run_history_refuses_a_limit_beyond_bigint(api):
    job = api.post("/api/v1/jobs", http_job(), format="json").json()
    response = api.get(f"/api/v1/jobs/{job['id']}/runs?limit=99999999999999999999")
    assert response.status_code == 400
    error_at(response.json(), ("limit",))


@pytest.mark.parametrize("count", ["%00", "1_0", "99999999999999999999", "-1"])
def test_upcoming_refuses_a_bad_count(api, count):
    job = api.post("/api/v1/jobs", http_job({"every": "1h"}), format="json").json()
    response = api.get(f"/api/v1/jobs/{job['id']}/upcoming?count={count}")
    assert response.status_code == 400
    error_at(response.json(), ("count",))


def test_a_namespace_with_nul_is_refused(api):
    response = api.get("/api/v1/products/p%00/groups/g/jobs")
    assert response.status_code == 400
    response = post_json(api, "/api/v1/products/p%00/groups/g/jobs", http_job())
    assert response.status_code == 400
    assert not Job.objects.exists()


def test_the_admin_search_refuses_nul(django_user_model):
    client = APIClient()
    client.force_login(django_user_model.objects.create_superuser("root", "r@x.org", "pw"))
    assert client.get("/admin/jobs/job/?q=%00").status_code == 400


@override_settings(DEBUG=False)
def test_a_form_with_too_many_fields_is_a_400_not_a_500(api):
    api.raise_request_exception = False
    form = {f"f{n}": "x" for n in range(1_001)}
    assert api.post("/api/v1/jobs", form).status_code == 400
    assert api.get("/api/v1/jobs", form).status_code == 400
    assert not Job.objects.exists()


@override_settings(DEBUG=False)
def test_an_unexpected_error_answers_json_without_a_traceback(api, monkeypatch, caplog):
    job = api.post("/api/v1/jobs", http_job(), format="json").json()

    def broken(**kwargs):
        raise RuntimeError("secret detail of a bug")

    monkeypatch.setattr(services, "job_pause", broken)
    api.raise_request_exception = False
    with caplog.at_level(logging.ERROR, logger="jobs.api.errors"):
        response = api.post(f"/api/v1/jobs/{job['id']}/pause")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    assert b"secret detail" not in response.content and b"Traceback" not in response.content
    assert any("secret detail of a bug" in (r.exc_text or "") for r in caplog.records)
