"""Example catalog tasks: what product code looks like as a plugin."""

from __future__ import annotations

import time

from rest_framework import serializers

from catalog import CatalogTask, TaskContext, TaskFailed

FROZEN_VMS = {13}  # VMs under maintenance: backups are vetoed


class BackupVmPayload(serializers.Serializer):
    vm_id = serializers.IntegerField(min_value=1, help_text="The VM to back up.")
    retain_days = serializers.IntegerField(min_value=1, max_value=365, default=7)
    maintenance = serializers.BooleanField(default=False, help_text="Skip this backup.")


class BackupVm(CatalogTask):
    name = "vps4.backup_vm"
    product = "vps4"
    group = "backups"
    description = "Snapshot a VM and keep the snapshot `retain_days` days."
    payload_serializer = BackupVmPayload

    def veto(self, context: TaskContext) -> str | None:
        vm_id = context.payload["vm_id"]
        if context.payload.get("maintenance"):
            return f"VM {vm_id} is in maintenance mode."
        if vm_id in FROZEN_VMS:
            return f"VM {vm_id} is frozen: no backups."
        return None

    def run(self, context: TaskContext) -> dict:
        vm_id = context.payload["vm_id"]
        if vm_id >= 1_000_000:
            raise TaskFailed(f"VM {vm_id} does not exist.", {"vm_id": vm_id})
        return {
            "snapshot": f"vm-{vm_id}-{context.idempotency_key[:8]}",
            "retain_days": context.payload["retain_days"],
            "attempt": context.attempt,
        }


class FlushDnsPayload(serializers.Serializer):
    zone = serializers.RegexField(r"^[a-z0-9.-]+$", max_length=253)


class FlushDnsCache(CatalogTask):
    name = "dns.flush_cache"
    product = "dns"
    group = "ops"
    description = "Flush the resolver cache for a zone."
    payload_serializer = FlushDnsPayload

    def run(self, context: TaskContext) -> dict:
        time.sleep(0.01)
        return {"flushed": context.payload["zone"]}
