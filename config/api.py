"""How the API answers the domain errors services raise (`core.errors`)."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus domain errors turned into their status with a readable body."""
    if isinstance(exc, DomainError):
        return Response(exc.as_payload(), status=exc.status_code)
    return drf_exception_handler(exc, context)
