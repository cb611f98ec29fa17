"""How the API answers errors: every 4xx and 5xx in drf-standardized-errors' one format,

    {"type": "validation_error" | "client_error" | "server_error",
     "errors": [{"code": "...", "detail": "...", "attr": "field name" | null}, ...]}

with the domain errors services raise (`core.errors`) mapped into it: bad input becomes a
validation error naming its field, a state conflict a 409 carrying its code, Brevo trouble a
502/503. What a domain error adds for the client (the campaign's `status`, the ids that block a
delete, Brevo's own answer) sits beside `type` and `errors`, under the names the schema gives."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from drf_standardized_errors.formatter import ExceptionFormatter as BaseExceptionFormatter
from drf_standardized_errors.handler import ExceptionHandler as BaseExceptionHandler
from rest_framework import exceptions
from rest_framework_simplejwt import exceptions as jwt_exceptions

from core.errors import DomainError, InvalidInputError


class DomainAPIException(exceptions.APIException):
    """A domain error as DRF carries it: its status and a detail with the error's code."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(detail=error.message, code=error.code)
        self.status_code = int(error.status_code)


class ExceptionHandler(BaseExceptionHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, InvalidInputError):
            # `{field: [message]}` (and the other bad fields a service found at once), or a
            # message about the request as a whole.
            payload = exc.as_payload() if exc.field else {"non_field_errors": [exc.message]}
            return exceptions.ValidationError(payload, code=exc.code)
        if isinstance(exc, DomainError):
            return DomainAPIException(exc)
        if isinstance(exc, jwt_exceptions.AuthenticationFailed) and isinstance(exc.detail, dict):
            # simplejwt nests its own `{detail, code, messages}` in the detail: one error with
            # that code instead, the WWW-Authenticate challenge kept.
            converted = exceptions.AuthenticationFailed(str(exc.detail["detail"]), code=str(exc.detail["code"]))
            converted.auth_header = getattr(exc, "auth_header", None)  # type: ignore[attr-defined]
            return converted
        return super().convert_known_exceptions(exc)

    def report_exception(self, exc: exceptions.APIException, response: Any) -> None:
        # A domain error is an answer the service chose (Brevo refused: 502), not a crash to
        # report as one; Django still logs every 5xx response.
        if not isinstance(self.exc, DomainError):
            super().report_exception(exc, response)


class ExceptionFormatter(BaseExceptionFormatter):
    def format_error_response(self, error_response: Any) -> Any:
        body = super().format_error_response(error_response)
        if isinstance(self.original_exc, DomainError) and not isinstance(self.original_exc, InvalidInputError):
            body.update(self.original_exc.extra)
        return body


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 for URLs no route matches: under /api/ (`/api/campaigns/abc/`) in the API's
    format, so a client reads every 404 alike; the site's own page elsewhere."""
    if request.path.startswith("/api/"):
        body = {"type": "client_error", "errors": [{"code": "not_found", "detail": "Not found.", "attr": None}]}
        return JsonResponse(body, status=404)
    return page_not_found(request, exception)
