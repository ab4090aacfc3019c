"""Catalog tasks from the example plugin, through the API and real worker processes."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

NS = "products/vps4/groups/backups/jobs"


def backup(payload: dict) -> dict:
    return {
        "task": {"type": "catalog", "name": "vps4.backup_vm"},
        "payload": payload,
        "schedule": "now",
    }


def test_the_plugin_task_is_listed_with_its_schema(alice):
    tasks = {t["name"]: t for t in alice.ok(alice.get("catalog"))["results"]}
    assert tasks["vps4.backup_vm"]["payload_schema"]["required"] == ["vm_id"]
    assert tasks["dns.flush_cache"]["group"] == "ops"


def test_a_catalog_job_runs_on_a_worker(alice):
    job = alice.create_job(backup({"vm_id": 42, "retain_days": 3}))
    job = alice.wait_job(job["id"], "succeeded")
    (run,) = alice.runs(job["id"])
    detail = alice.run(run["id"])
    assert detail["result"]["snapshot"] == f"vm-42-{run['id'][:8]}"
    assert detail["result"]["retain_days"] == 3


def test_an_invalid_payload_is_rejected_and_nothing_is_created(alice):
    before = alice.ok(alice.get("jobs"))["count"]
    response = alice.post("jobs", backup({"vm_id": "forty-two"}))
    assert response.status_code == 400
    assert "vm_id" in response.json()["payload"]
    assert alice.ok(alice.get("jobs"))["count"] == before


def test_a_vetoed_run_is_recorded_with_its_reason(alice):
    job = alice.create_job(backup({"vm_id": 7, "maintenance": True}))
    job = alice.wait_job(job["id"], "failed")
    (run,) = alice.runs(job["id"])
    assert run["status"] == "vetoed"
    assert run["error"] == "VM 7 is in maintenance mode."


def test_the_namespace_routes(alice, bob):
    response = alice.post(NS, backup({"vm_id": 9}))
    assert response.status_code == 201, response.text
    job = response.json()
    assert (job["product"], job["group"]) == ("vps4", "backups")
    alice.wait_job(job["id"], "succeeded")
    assert [j["id"] for j in alice.ok(alice.get(NS))["results"]][0] == job["id"]
    assert alice.ok(alice.get(f"{NS}/{job['id']}"))["status"] == "succeeded"
    assert len(alice.ok(alice.get(f"{NS}/{job['id']}/runs"))["results"]) == 1
    assert bob.get(f"{NS}/{job['id']}").status_code == 404
    # A namespace where no catalog task is registered refuses catalog jobs.
    other = alice.post("products/nothing/groups/here/jobs", backup({"vm_id": 9}))
    assert other.status_code == 400
    assert "name" in other.json()["task"]
