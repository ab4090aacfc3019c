"""Catalog tasks: listing, payload validation, namespaces, running, vetoes."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from catalog import CatalogTask, registry
from jobs.models import Job, RunStatus

from .helpers import run_job

pytestmark = [pytest.mark.django_db]


def catalog_job(name: str, payload: dict, schedule="1s", **extra) -> dict:
    return {
        "task": {"type": "catalog", "name": name},
        "payload": payload,
        "schedule": schedule,
        **extra,
    }


def run_with_run(api, body: dict):
    """run_job's job, and its one run."""
    job = run_job(api, body)
    return job, job.runs.get()


def test_the_catalog_lists_builtin_and_plugin_tasks_with_schemas(api):
    body = api.get("/api/v1/catalog").json()
    tasks = {task["name"]: task for task in body["results"]}
    assert {"sched.echo", "sched.sleep", "sched.prune_runs"} <= set(tasks)
    backup = tasks["vps4.backup_vm"]  # from the example plugin, found by its entry point
    assert (backup["product"], backup["group"]) == ("vps4", "backups")
    assert backup["description"]
    schema = backup["payload_schema"]
    assert schema["type"] == "object"
    assert schema["required"] == ["vm_id"]
    assert schema["properties"]["vm_id"] == {
        "type": "integer",
        "minimum": 1,
        "description": "The VM to back up.",
    }
    assert schema["properties"]["retain_days"]["default"] == 7


def test_the_catalog_filters_by_product_and_group(api):
    body = api.get("/api/v1/catalog?product=vps4&group=backups").json()
    assert [task["name"] for task in body["results"]] == ["vps4.backup_vm"]


def test_the_catalog_needs_credentials(client):
    assert client.get("/api/v1/catalog").status_code == 401


def test_a_catalog_job_runs_its_task_with_the_validated_payload(api, broker):
    job, run = run_with_run(api, catalog_job("vps4.backup_vm", {"vm_id": 42}))
    assert job.payload == {"vm_id": 42, "retain_days": 7, "maintenance": False}
    assert run.status == RunStatus.SUCCEEDED
    assert run.result["snapshot"].startswith("vm-42-")
    assert run.result["retain_days"] == 7
    assert job.status == "succeeded"


@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "vm_id"),
        ({"vm_id": 0}, "vm_id"),
        ({"vm_id": "x"}, "vm_id"),
        ({"vm_id": 1, "retain_days": 999}, "retain_days"),
    ],
)
def test_an_invalid_payload_is_400_naming_the_field(api, payload, field):
    response = api.post("/api/v1/jobs", catalog_job("vps4.backup_vm", payload), format="json")
    assert response.status_code == 400
    assert field in response.json()["payload"]
    assert Job.objects.count() == 0


def test_an_unknown_catalog_task_is_400(api):
    response = api.post("/api/v1/jobs", catalog_job("nope.nothing", {}), format="json")
    assert response.status_code == 400
    assert "name" in response.json()["task"]


def test_a_patch_of_the_payload_is_validated_too(api):
    job = api.post(
        "/api/v1/jobs", catalog_job("vps4.backup_vm", {"vm_id": 1}, "1h"), format="json"
    ).json()
    response = api.patch(f"/api/v1/jobs/{job['id']}", {"payload": {"vm_id": -5}}, format="json")
    assert response.status_code == 400
    assert "vm_id" in response.json()["payload"]
    assert Job.objects.get(id=job["id"]).payload["vm_id"] == 1


def test_a_veto_skips_the_run_with_its_reason(api, broker):
    job, run = run_with_run(api, catalog_job("vps4.backup_vm", {"vm_id": 13}))
    assert run.status == RunStatus.VETOED
    assert run.error == "VM 13 is frozen: no backups."


def test_a_task_failure_fails_the_run_with_its_message(api, broker):
    job, run = run_with_run(api, catalog_job("vps4.backup_vm", {"vm_id": 5_000_000}))
    assert run.status == RunStatus.FAILED
    assert run.error == "VM 5000000 does not exist."
    assert run.result == {"vm_id": 5000000}


def test_a_slow_task_times_out(api, broker):
    job, run = run_with_run(api, catalog_job("sched.sleep", {"seconds": 5}, timeout="0.2s"))
    assert run.status == RunStatus.TIMED_OUT


def test_the_context_carries_the_run(api, broker):
    job, run = run_with_run(api, catalog_job("sched.echo", {"message": "hi"}))
    assert run.result == {"message": "hi", "attempt": 1}


def test_catalog_jobs_need_no_special_permission(bob_api):
    response = bob_api.post("/api/v1/jobs", catalog_job("sched.echo", {}), format="json")
    assert response.status_code == 201


# --- namespaces ---

NS = "/api/v1/products/vps4/groups/backups/jobs"


def test_a_namespace_creates_and_lists_only_its_jobs(api):
    response = api.post(NS, catalog_job("vps4.backup_vm", {"vm_id": 7}, "1h"), format="json")
    assert response.status_code == 201, response.data
    job = response.json()
    assert (job["product"], job["group"]) == ("vps4", "backups")
    api.post("/api/v1/jobs", catalog_job("sched.echo", {}, "1h", product="other"), format="json")
    listed = api.get(NS).json()
    assert [j["id"] for j in listed["results"]] == [job["id"]]
    assert api.get(f"{NS}/{job['id']}").status_code == 200
    assert api.get(f"/api/v1/products/dns/groups/ops/jobs/{job['id']}").status_code == 404


def test_namespace_actions_work_like_the_flat_api(api):
    job = api.post(
        NS, catalog_job("vps4.backup_vm", {"vm_id": 7}, {"every": "1h"}), format="json"
    ).json()
    assert api.post(f"{NS}/{job['id']}/pause").json()["status"] == "paused"
    assert api.post(f"{NS}/{job['id']}/resume").json()["status"] == "scheduled"
    assert api.patch(f"{NS}/{job['id']}", {"name": "n"}, format="json").json()["name"] == "n"
    assert len(api.get(f"{NS}/{job['id']}/upcoming?count=2").json()["upcoming"]) == 2
    assert api.get(f"{NS}/{job['id']}/runs").json()["count"] == 0
    assert api.delete(f"{NS}/{job['id']}").json()["status"] == "canceled"


def test_a_catalog_task_of_another_namespace_is_400(api):
    response = api.post(NS, catalog_job("sched.echo", {}), format="json")
    assert response.status_code == 400
    assert "name" in response.json()["task"]
    assert Job.objects.count() == 0


def test_a_namespace_without_catalog_tasks_refuses_catalog_jobs(api):
    response = api.post(
        "/api/v1/products/ghost/groups/none/jobs",
        catalog_job("vps4.backup_vm", {"vm_id": 1}),
        format="json",
    )
    assert response.status_code == 400
    assert Job.objects.count() == 0


def test_a_body_naming_another_namespace_is_400(api):
    response = api.post(
        NS, catalog_job("vps4.backup_vm", {"vm_id": 1}, product="dns"), format="json"
    )
    assert response.status_code == 400
    assert "product" in response.json()


def test_other_users_do_not_see_namespaced_jobs(api, bob_api):
    job = api.post(NS, catalog_job("vps4.backup_vm", {"vm_id": 7}, "1h"), format="json").json()
    assert bob_api.get(f"{NS}/{job['id']}").status_code == 404
    assert bob_api.get(NS).json()["count"] == 0


def test_a_vetoed_run_is_not_retried(api, broker):
    job, run = run_with_run(
        api, catalog_job("vps4.backup_vm", {"vm_id": 13}, retry={"max_attempts": 3, "delay": "0s"})
    )
    assert run.status == RunStatus.VETOED
    assert job.runs.count() == 1


class ExtraTask(CatalogTask):
    name = "tests.extra"
    product = "tests"
    group = "extra"
    description = "Registered by the CATALOG_TASKS setting."

    def run(self, context):
        return {}


class ClashingTask(ExtraTask):
    name = "sched.echo"


@pytest.fixture
def fresh_registry():
    registry.catalog.cache_clear()
    yield
    registry.catalog.cache_clear()


def test_tasks_are_registered_by_the_setting_too(api, settings, fresh_registry):
    settings.CATALOG_TASKS = ["tests.integration.test_catalog.ExtraTask"]
    names = [t["name"] for t in api.get("/api/v1/catalog?product=tests").json()["results"]]
    assert names == ["tests.extra"]
    schema = api.get("/api/v1/catalog?product=tests").json()["results"][0]["payload_schema"]
    assert schema["properties"] == {}


def test_a_name_registered_twice_is_a_configuration_error(settings, fresh_registry):
    settings.CATALOG_TASKS = ["tests.integration.test_catalog.ClashingTask"]
    with pytest.raises(ImproperlyConfigured, match="registered twice"):
        registry.catalog()
