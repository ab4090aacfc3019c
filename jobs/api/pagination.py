"""Limit/offset pagination with a page size cap and strict parameters."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.settings import api_settings

from jobs.selectors import runs_newest_first

from .params import int_param, unknown_params

# PostgreSQL's OFFSET is a bigint.
MAX_OFFSET = 2**63 - 1


class CappedLimitOffsetPagination(LimitOffsetPagination):
    """`?limit=` from 1 to API_MAX_PAGE_SIZE and `?offset=` from 0: anything else, a
    limit above the cap included, is a 400 naming the parameter and the limit (a page
    silently smaller than asked for would read as the end of the list).

    A query parameter the list does not know (not `limit`, `offset`, `format`, nor one of
    its filters) is a 400 naming it: a misspelt filter (`?stauts=failed`) would otherwise
    answer the whole list as if it were the filtered one."""

    @property
    def max_limit(self) -> int:
        return settings.API_MAX_PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        self.check_params(request, view)
        return super().paginate_queryset(queryset, request, view)

    def check_params(self, request, view) -> None:
        known = {self.limit_query_param, self.offset_query_param, *_filters_of(view)}
        known.add(api_settings.URL_FORMAT_OVERRIDE)  # ?format=json, the browsable API's
        unknown = unknown_params(request, known)
        if unknown:
            raise serializers.ValidationError(unknown)

    def get_limit(self, request) -> int:
        return int_param(
            request,
            self.limit_query_param,
            default=min(self.default_limit, self.max_limit),
            minimum=1,
            maximum=self.max_limit,
        )

    def get_offset(self, request) -> int:
        return int_param(request, self.offset_query_param, default=0, minimum=0, maximum=MAX_OFFSET)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        """`limit` and `offset` with the bounds get_limit and get_offset hold them to."""
        default = min(self.default_limit, self.max_limit)
        return [
            {
                "name": self.limit_query_param,
                "required": False,
                "in": "query",
                "description": f"Items per page, 1 to API_MAX_PAGE_SIZE ({self.max_limit}).",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_limit,
                    "default": default,
                },
            },
            {
                "name": self.offset_query_param,
                "required": False,
                "in": "query",
                "description": "Items to skip.",
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
            },
        ]

    def get_paginated_response_schema(self, schema: dict) -> dict:
        answer = super().get_paginated_response_schema(schema)
        for key, offset in (("next", 100), ("previous", 0)):
            answer["properties"][key]["example"] = (
                f"https://sched.example.com/api/v1/jobs?limit=50&offset={offset}"
            )
        answer["properties"]["count"]["description"] = "How many match, on every page."
        answer["required"] = ["count", "next", "previous", "results"]
        return answer


class RunListPagination(CappedLimitOffsetPagination):
    """GET /runs: counts the matching runs first, then orders them for that count
    (selectors.runs_newest_first: how PostgreSQL finds the page depends on it)."""

    def paginate_queryset(self, queryset, request, view=None):
        self.check_params(request, view)
        self.request = request
        self.limit = self.get_limit(request)
        self.count = self.get_count(queryset)
        self.offset = self.get_offset(request)
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        if self.count == 0 or self.offset > self.count:
            return []
        queryset = runs_newest_first(queryset, matching=self.count)
        return list(queryset[self.offset : self.offset + self.limit])


def _filters_of(view) -> list[str]:
    """The query parameters of the view's filters (its FilterSet's), none without one."""
    filterset_class = getattr(view, "filterset_class", None)
    return list(filterset_class.base_filters) if filterset_class is not None else []
