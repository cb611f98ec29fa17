"""API-wide pieces: the domain errors services raise and how the API answers them."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    """Base for errors a service raises on purpose; the API maps each kind to a status."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}

    def as_payload(self) -> dict[str, Any]:
        if self.field:
            return {self.field: [self.message], **self.extra}
        return {"detail": self.message, "code": self.code, **self.extra}


class InvalidInputError(DomainError):
    """Bad input, named by field (400)."""


class StateConflictError(DomainError):
    """The object is in a state that forbids the action (409)."""

    status_code: int = status.HTTP_409_CONFLICT
    code = "state_conflict"


class UpstreamError(DomainError):
    """Brevo refused or could not be reached (502 for a refusal, 503 when unreachable)."""

    status_code: int = status.HTTP_502_BAD_GATEWAY
    code = "upstream_error"

    def __init__(self, message: str, *, status_code: int = status.HTTP_502_BAD_GATEWAY, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.status_code = status_code


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus domain errors turned into their status with a readable body."""
    if isinstance(exc, DomainError):
        return Response(exc.as_payload(), status=exc.status_code)
    return drf_exception_handler(exc, context)
