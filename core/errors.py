"""The errors services raise on purpose. Each kind carries the HTTP status the API answers with,
so services never import the web layer and every interface (API, admin, commands) reads the same
message. The API's exception handler lives in `config.api`."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class DomainError(Exception):
    """Base for errors a service raises on purpose; the API maps each kind to a status."""

    status_code: int = HTTPStatus.BAD_REQUEST
    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}
        if code is not None:
            self.code = code

    def as_payload(self) -> dict[str, Any]:
        if self.field:
            return {self.field: [self.message], **self.extra}
        return {"detail": self.message, "code": self.code, **self.extra}


class InvalidInputError(DomainError):
    """Bad input, named by field (400)."""


class StateConflictError(DomainError):
    """The object is in a state that forbids the action (409). `code` says which state:
    `state_conflict` by default, or a more precise one such as `brevo_not_configured`."""

    status_code: int = HTTPStatus.CONFLICT
    code = "state_conflict"


class UpstreamError(DomainError):
    """Brevo refused or could not be reached (502 for a refusal, 503 when unreachable)."""

    status_code: int = HTTPStatus.BAD_GATEWAY
    code = "upstream_error"

    def __init__(self, message: str, *, status_code: int = HTTPStatus.BAD_GATEWAY, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.status_code = status_code
