"""/api/v1/products/{product}/groups/{group}/jobs: the job API inside one namespace."""

from __future__ import annotations

from . import schema
from .views import JobViewSet


@schema.namespaced_jobs
class NamespacedJobViewSet(JobViewSet):
    """Jobs of one product and group: listed, created and changed only there."""

    def namespace(self) -> tuple[str, str]:
        return self.kwargs["product"], self.kwargs["group"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no kwargs
            return super().get_queryset()
        product, group = self.namespace()
        return super().get_queryset().filter(product=product, group=group)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "namespace": self.namespace()}
