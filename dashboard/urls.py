"""/dashboard/: the overview, a job's page, its actions, and the session's login."""

from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("jobs/<str:job_id>/", views.job, name="job"),
    path("jobs/<str:job_id>/<str:action>", views.job_action, name="job-action"),
]
