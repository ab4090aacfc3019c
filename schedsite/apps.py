"""Django apps configured here: django-celery-beat, whose admin pages are off by default.

Beat is only the clock of this service (jobs.beat.DispatchingScheduler): jobs are rows of
jobs.Job, never PeriodicTasks, and the beat tables hold no job. Pages named "Periodic
tasks" beside "Jobs" invite an operator to schedule work where nothing runs it as a job
(no runs, no retries, no notifications). So they are hidden unless ADMIN_SHOW_BEAT_MODELS
is set, and then shown under a heading that says what they are.
"""

from django.conf import settings
from django.contrib import admin
from django_celery_beat.apps import BeatConfig as CeleryBeatConfig


class BeatConfig(CeleryBeatConfig):
    verbose_name = "Celery beat (internal housekeeping, not jobs)"

    def ready(self) -> None:
        super().ready()
        # Apps are readied in INSTALLED_APPS order: django.contrib.admin, first, has
        # imported every app's admin module (autodiscover), beat's registrations included.
        if not settings.ADMIN_SHOW_BEAT_MODELS:
            for model in self.get_models():
                if admin.site.is_registered(model):
                    admin.site.unregister(model)
