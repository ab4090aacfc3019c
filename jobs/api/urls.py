from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from . import views
from .catalog import CatalogView
from .channels import ChannelViewSet, RuleViewSet
from .namespaces import NamespacedJobViewSet

router = SimpleRouter(trailing_slash=False)
router.register("jobs", views.JobViewSet, basename="job")
router.register("runs", views.RunViewSet, basename="run")
router.register("channels", ChannelViewSet, basename="channel")
router.register("notify-rules", RuleViewSet, basename="notify-rule")
router.register(
    r"products/(?P<product>[^/]+)/groups/(?P<group>[^/]+)/jobs",
    NamespacedJobViewSet,
    basename="namespaced-job",
)

urlpatterns = [
    path("health", views.health, name="health"),
    path("catalog", CatalogView.as_view(), name="catalog"),
    path("schedules/preview", views.SchedulePreviewView.as_view(), name="schedule-preview"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    *router.urls,
]
