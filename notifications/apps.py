from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The outbox listens to how fires end (jobs.signals); the worker's task is registered
        # under its name wherever the app is loaded.
        from jobs.signals import fires_ended

        from . import outbox, tasks  # noqa: F401

        fires_ended.connect(outbox.on_fires_ended, dispatch_uid="notifications.outbox")
