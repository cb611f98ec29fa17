"""The error answers the API schema documents (drf-spectacular). Every error body is a JSON
object; the description says what it holds and when it comes."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse


def error_response(description: str) -> OpenApiResponse:
    """An error answer in the schema: a JSON object, described in words."""
    return OpenApiResponse(response=OpenApiTypes.OBJECT, description=description)


FIELD_ERRORS = error_response("Invalid input: `{field: [message, ...]}` naming every bad field.")
UNAUTHENTICATED = error_response("No or invalid credentials (JWT bearer or session).")
