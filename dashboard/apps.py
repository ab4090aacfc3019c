"""The dashboard app: pages at /dashboard/, and the rollup table its charts read."""

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    default_auto_field = "django.db.models.BigAutoField"
