"""How the list endpoints page: numbered pages of 50, `page_size` up to 200."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination


class ListPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
