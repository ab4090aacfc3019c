"""The OpenAPI document is valid, generated without a warning, and true to the API: each
example it gives is accepted as is, and what the API answers fits its components.

(tests/e2e/test_schemathesis.py checks every operation's answers against it; this checks
every task type and schedule form, which the fuzzer reaches only by chance.)
"""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

JOBS = "/api/v1/jobs"
PREVIEW = "/api/v1/schedules/preview"
TASK_TYPES = {
    "HttpTask": "http",
    "CommandTask": "command",
    "ScriptTask": "script",
    "DockerTask": "docker",
    "CatalogTask": "catalog",
}
SCHEDULE_FORMS = [
    "ScheduleNow",
    "ScheduleAt",
    "ScheduleDelay",
    "ScheduleEvery",
    "ScheduleInterval",
    "ScheduleCron",
]


@pytest.fixture(scope="module")
def document(tmp_path_factory) -> dict:
    """The document as `make test` makes it: --fail-on-warn raises on any warning."""
    path = tmp_path_factory.mktemp("openapi") / "schema.json"
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", path
    )
    return json.loads(path.read_text())


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")  # script jobs store their file there


def json_schema(node):
    """OpenAPI 3.0's schema dialect as JSON Schema: `nullable` is a null type allowed."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {k: json_schema(v) for k, v in node.items() if k not in ("discriminator", "example")}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


def check(document: dict, component: str, value) -> None:
    """Raise if `value` does not fit the component (references resolved in the document)."""
    schemas = json_schema(copy.deepcopy(document["components"]["schemas"]))
    root = {"$ref": f"#/components/schemas/{component}", "components": {"schemas": schemas}}
    jsonschema.validate(value, root)


def test_the_document_is_the_same_each_time_it_is_asked_for(document, api):
    # Each request for /api/v1/schema generates it anew, in the same process.
    for _ in range(2):
        answer = api.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        assert answer.status_code == 200
        assert json.loads(answer.content) == document


def test_every_operation_has_a_summary_and_documents_its_errors(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), where
            assert "UUID" not in operation.get("description", ""), where
            codes = set(operation["responses"])
            assert {"400", "429"} <= codes, where
            assert path.endswith("/health") or "401" in codes, where
            if "{id}" in path:
                assert "404" in codes, where
            ok = sorted(code for code in codes if code < "300")
            assert len(ok) == 1, where
            if ok != ["204"]:
                assert operation["responses"][ok[0]]["content"]["application/json"], where


def test_tasks_and_schedules_are_components_of_their_own(document):
    schemas = document["components"]["schemas"]
    task = schemas["Task"]
    assert task["discriminator"]["propertyName"] == "type"
    assert set(task["discriminator"]["mapping"]) == set(TASK_TYPES.values())
    assert [item["$ref"].rsplit("/", 1)[1] for item in schemas["Schedule"]["oneOf"]] == (
        SCHEDULE_FORMS
    )
    job_input = schemas["JobInput"]["properties"]
    assert job_input["task"]["allOf"] == [{"$ref": "#/components/schemas/Task"}]
    assert job_input["schedule"]["allOf"] == [{"$ref": "#/components/schemas/Schedule"}]
    assert job_input["retry"]["allOf"] == [{"$ref": "#/components/schemas/Retry"}]
    job = schemas["Job"]
    assert job["properties"]["timeout"]["nullable"] is True
    assert job["properties"]["last_run"]["nullable"] is True
    assert not [name for name in schemas if any(c.isdigit() for c in name)]


def test_every_component_example_fits_its_component(document):
    examples = {
        name: schema["example"]
        for name, schema in document["components"]["schemas"].items()
        if "example" in schema
    }
    assert set(TASK_TYPES) | set(SCHEDULE_FORMS) <= set(examples)
    for name, example in examples.items():
        check(document, name, example)


def test_each_example_body_of_post_jobs_creates_a_job_as_shown(document, root):
    examples = document["paths"][JOBS]["post"]["requestBody"]["content"]["application/json"][
        "examples"
    ]
    assert len(examples) >= 5
    for name, example in examples.items():
        check(document, "JobInput", example["value"])
        created = root.post(JOBS, example["value"], format="json")
        assert created.status_code == 201, (name, created.json())
        check(document, "Job", created.json())


@pytest.mark.parametrize("component", sorted(TASK_TYPES))
def test_each_task_type_example_makes_a_job_whose_answer_fits_the_document(
    document, root, component
):
    task = document["components"]["schemas"][component]["example"]
    body = {"task": task, "schedule": "in 1h", "retry": {"max_attempts": 2}, "timeout": "5m"}
    created = root.post(JOBS, body, format="json")
    assert created.status_code == 201, created.json()
    job = created.json()
    assert job["task"]["type"] == TASK_TYPES[component]
    check(document, "Job", job)
    for path in ("", "/upcoming", "/runs"):
        assert root.get(f"{JOBS}/{job['id']}{path}").status_code == 200
    run = root.post(f"{JOBS}/{job['id']}/run")
    assert run.status_code == 202
    check(document, "Run", run.json())
    check(document, "Job", root.get(f"{JOBS}/{job['id']}").json())
    canceled = root.delete(f"{JOBS}/{job['id']}")
    assert canceled.status_code == 200  # as documented: the job, not a 204
    check(document, "Job", canceled.json())


@pytest.mark.parametrize("component", SCHEDULE_FORMS)
def test_each_schedule_form_example_is_previewed_as_the_document_says(document, api, component):
    schedule = document["components"]["schemas"][component]["example"]
    preview = api.post(PREVIEW, {"schedule": schedule, "count": 3}, format="json")
    assert preview.status_code == 200, preview.json()
    check(document, "SchedulePreviewAnswer", preview.json())


def test_the_errors_fit_the_error_shapes(document, api, bob_api):
    created = api.post(JOBS, {"task": {"type": "http"}, "schedule": "soon"}, format="json")
    assert created.status_code == 400
    check(document, "ValidationError", created.json())
    body = {"task": {"uri": "https://example.com"}, "schedule": "in 1h"}
    job = api.post(JOBS, body, format="json").json()
    for answer, code in (
        (bob_api.get(f"{JOBS}/{job['id']}"), 404),
        (api.get(f"{JOBS}/not-a-uuid"), 404),
        (api.delete(f"{JOBS}/{job['id']}"), 200),
        (api.post(f"{JOBS}/{job['id']}/pause"), 409),
        (
            api.post(JOBS, {**body, "task": {"type": "command", "command": "true"}}, format="json"),
            403,
        ),
    ):
        assert answer.status_code == code, answer.json()
        check(document, "Error" if code >= 400 else "Job", answer.json())


def test_an_unknown_url_under_the_api_answers_json_as_documented(api, client):
    # e.g. an empty namespace: /products//groups//jobs/{id} is no route at all
    missing = api.get("/api/v1/products/groups/jobs/00c716c3-ae3c-42e6-be27-6f4a600de843")
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/json"
    assert missing.json()["detail"].startswith("No such endpoint: GET /api/v1/products/")
    elsewhere = client.get("/no-such-page")
    assert elsewhere.status_code == 404
    assert elsewhere["Content-Type"].startswith("text/html")
