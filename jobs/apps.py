"""The jobs app: registers its Celery entry points in every process that loads Django."""

from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # jobs.publish names the worker's tasks (jobs.tasks) without importing them; the web
        # process, which publishes `now` runs, must have them registered too (Celery's
        # autodiscovery imports them only in the worker and beat).
        from . import tasks  # noqa: F401
