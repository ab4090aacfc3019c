"""JSON schema of a catalog task's payload, from its DRF serializer."""

from __future__ import annotations

import logging
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ComponentRegistry
from rest_framework.views import APIView

log = logging.getLogger(__name__)

EMPTY = {"type": "object", "properties": {}, "additionalProperties": False}


def payload_schema(serializer_class: type | None) -> dict[str, Any]:
    """The payload's JSON schema as drf-spectacular maps the serializer for a request body."""
    if serializer_class is None:
        return EMPTY
    inspector = AutoSchema()
    inspector.view = APIView()  # drf-spectacular needs a view for the serializer context
    inspector.view.request = None
    inspector.registry = ComponentRegistry()
    inspector.method, inspector.path, inspector.path_regex = "POST", "/", "/"
    try:
        schema = inspector._map_serializer(serializer_class(), "request")
    except Exception:  # an exotic field must not break the catalog listing
        log.exception("cannot map the payload schema of %s", serializer_class)
        return {"type": "object"}
    components = inspector.registry.build({}).get("schemas")
    if components:  # nested serializers become references: ship their definitions
        schema["components"] = {"schemas": components}
    return schema
