"""The catalog plugin API: product code as registered, validated, vetoable tasks.

A plugin package defines CatalogTask subclasses and registers them either in the
CATALOG_TASKS setting (dotted paths) or as entry points in the group
"sched.catalog" of its own pyproject.toml:

    [project.entry-points."sched.catalog"]
    backup_vm = "my_plugin.tasks:BackupVm"
"""

from .base import CatalogTask, TaskContext, TaskFailed

__all__ = ["CatalogTask", "TaskContext", "TaskFailed"]
