"""
The one pagination class: `{items, count, total, page, page_size, pages}`.

`?page=` is 1-based and `?page_size=` defaults to 20, capped at 100. A page past the end
is an empty `items` with the right `total` (not a 404), and a page or page size that is
not a positive number is a `VALIDATION_ERROR`. Two queries: the count and the page.
"""

from __future__ import annotations

import math
from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.responses import APIResponse


def _positive_int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    # `?page=` is sent and empty: not a number, so a VALIDATION_ERROR like `?page=abc`.
    # ASCII digits only: str.isdigit() admits "²", which int() refuses (a 500).
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise ValidationError({name: ["Must be a positive integer."]})
    return int(raw)


class PagePagination(BasePagination):
    page_size = 20
    max_page_size = 100

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        # Validate both parameters before touching the database.
        self.page = _positive_int(request, "page", 1)
        self.size = min(_positive_int(request, "page_size", self.page_size), self.max_page_size)
        self.total = queryset.count()
        offset = (self.page - 1) * self.size
        return list(queryset[offset : offset + self.size]) if offset < self.total else []

    def get_paginated_response(self, data: Any) -> Response:
        return APIResponse(self.page_data(data))

    def page_data(self, items: list[Any]) -> dict[str, Any]:
        """The list form of the envelope's `data` for the page just paginated."""
        return {
            "items": items,
            "count": len(items),
            "total": self.total,
            "page": self.page,
            "page_size": self.size,
            "pages": math.ceil(self.total / self.size) if self.total else 0,
        }

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        integer = {"type": "integer"}
        return {
            "type": "object",
            "required": ["items", "count", "total", "page", "page_size", "pages"],
            "properties": {
                "items": schema,
                "count": {**integer, "description": "Items on this page."},
                "total": {**integer, "description": "Items matching the query."},
                "page": integer,
                "page_size": integer,
                "pages": integer,
            },
        }

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        return [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "description": "1-based page number.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": "page_size",
                "in": "query",
                "required": False,
                "description": f"Items per page (default {self.page_size}, "
                f"at most {self.max_page_size}).",
                "schema": {"type": "integer", "minimum": 1},
            },
        ]
