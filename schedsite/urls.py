from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from jobs.api.errors import no_such_endpoint
from jobs.api.metrics import metrics_view

# No navigation sidebar beside the admin's pages: its 300 px are what the job and run lists
# need to fit a 1,400 px window next to their filters (tests/e2e/test_admin_browser.py);
# the breadcrumbs and the index lead everywhere it did.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("", RedirectView.as_view(url="/api/v1/docs", permanent=False)),
    path("admin/", admin.site.urls),
    path("dashboard/", include("dashboard.urls")),
    path("api/v1/", include("jobs.api.urls")),
    # Any other path under /api/ (a trailing slash, a typo, /api/v2): a JSON 404.
    re_path(r"^api/", no_such_endpoint),
    path("api-auth/", include("rest_framework.urls")),
    path("metrics", metrics_view, name="metrics"),
]
