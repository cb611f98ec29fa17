"""How the list endpoints page: numbered pages of 50, `page_size` 1 to 200. A page size or page
number out of bounds is a 400 naming the parameter (DRF would quietly use the default size), and
the schema states both bounds."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.request import Request


def bounded_page_size(request: Request, *, name: str, default: int, maximum: int) -> int:
    """The `name` query parameter as an integer from 1 to `maximum`, `default` when absent."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        size = int(raw)
    except ValueError:
        raise ValidationError({name: ["A whole number is required."]}, code="invalid") from None
    if not 1 <= size <= maximum:
        raise ValidationError({name: [f"Give a number from 1 to {maximum}."]}, code="out_of_range")
    return size


def page_size_parameter(name: str, *, default: int, maximum: int) -> dict[str, Any]:
    return {
        "name": name,
        "required": False,
        "in": "query",
        "description": f"Results per page, 1 to {maximum} (default {default}).",
        "schema": {"type": "integer", "minimum": 1, "maximum": maximum},
    }


class ListPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    # Pages are numbers only ("last" is DRF's extra, not part of the contract).
    last_page_strings = ()

    def get_page_size(self, request: Request) -> int:
        return bounded_page_size(request, name="page_size", default=self.page_size, maximum=self.max_page_size)

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        raw = request.query_params.get(self.page_query_param, "1")
        try:
            number = int(raw)
        except ValueError:
            raise ValidationError({self.page_query_param: ["A whole number is required."]}, code="invalid") from None
        if number < 1:
            raise ValidationError({self.page_query_param: ["Pages start at 1."]}, code="min_value")
        return number

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "A page number from 1; past the last page is a 404.",
                "schema": {"type": "integer", "minimum": 1},
            },
            page_size_parameter(self.page_size_query_param, default=self.page_size, maximum=self.max_page_size),
        ]


class KeysetPagination(CursorPagination):
    """Keyset pages in id order: a million rows cost what the first page does (no COUNT);
    `page_size` 1 to 1000 (default 100)."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "id"

    def get_page_size(self, request: Request) -> int:
        return bounded_page_size(request, name="page_size", default=self.page_size, maximum=self.max_page_size)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        cursor, *_ = super().get_schema_operation_parameters(view)
        return [
            cursor,
            page_size_parameter(self.page_size_query_param, default=self.page_size, maximum=self.max_page_size),
        ]
