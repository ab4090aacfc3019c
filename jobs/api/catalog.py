"""GET /api/v1/catalog: the registered catalog tasks and their payload schemas."""

from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.registry import catalog
from catalog.schema import payload_schema

from . import schema


@schema.catalog
class CatalogView(APIView):
    def get(self, request):
        """List catalog tasks: name, product, group, description, payload JSON schema and
        the permission a job of it needs (null: none)."""
        product = request.query_params.get("product")
        group = request.query_params.get("group")
        tasks = [
            {
                "name": task.name,
                "product": task.product,
                "group": task.group,
                "description": task.description or (task.__doc__ or "").strip(),
                "payload_schema": payload_schema(task.payload_serializer),
                "permission": task.permission,
            }
            for task in catalog().values()
            if (product is None or task.product == product)
            and (group is None or task.group == group)
        ]
        return Response({"count": len(tasks), "results": tasks})
