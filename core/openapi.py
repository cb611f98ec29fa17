"""The API's contract as the schema states it (drf-spectacular, with drf-standardized-errors):
every error answer in the one format `config.api` produces, request bodies that refuse unknown
fields, and `Retry-After` on every 429.

drf-standardized-errors' AutoSchema adds the errors an operation can meet by its own shape (400
for a body or query parameters, 401 with authentication, 403 with permissions, 404 with a path id
or page, 405, 406, 415, 429 with throttles, 500); operations add the ones only they know of: 409
conflicts and Brevo's 502/503 with the shapes below."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from drf_standardized_errors.openapi import AutoSchema as StandardizedErrorsAutoSchema
from drf_standardized_errors.openapi_serializers import (
    ClientErrorEnum,
    ServerErrorEnum,
    ValidationErrorEnum,
)
from rest_framework import serializers

from core.serializers import MAX_ID

# The codes a 409 carries; the operation's description says which it can meet.
CONFLICT_CODES = {
    "state_conflict": "The object's state forbids the action (a campaign's `status`, ids that block it).",
    "sync_in_progress": "A Brevo sync of the segment is already pending or running.",
    "brevo_not_configured": "Brevo is not configured on this server (no BREVO_API_KEY): nothing to sync with.",
}


class AutoSchema(StandardizedErrorsAutoSchema):
    def _should_add_validation_error_response(self) -> bool:
        # A query parameter out of its bounds (`page_size`, `months`, a filter) is a 400 too,
        # on operations without django-filter as much as on those with it.
        has_query = any(parameter["in"] == "query" for parameter in self._get_parameters())
        return has_query or super()._should_add_validation_error_response()


class FieldErrorSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Stable, for programs: e.g. `required`, `unknown_field`, `max_value`.")
    detail = serializers.CharField(help_text="For people.")
    attr = serializers.CharField(
        allow_null=True,
        help_text="The field at fault (dotted for nested fields, e.g. `emails.2`); "
        "`non_field_errors` for the request as a whole; null outside validation errors.",
    )


class BadRequestErrorResponseSerializer(serializers.Serializer[Any]):
    """400: invalid input (`validation_error`, one entry per problem, each naming its field in
    `attr`, unknown fields included) or a body that is not JSON (`client_error`, `parse_error`)."""

    type = serializers.ChoiceField(choices=[*ValidationErrorEnum.choices, *ClientErrorEnum.choices])
    errors = FieldErrorSerializer(many=True)  # type: ignore[assignment]  # the format's key shadows Serializer.errors


class ConflictErrorSerializer(serializers.Serializer[Any]):
    code = serializers.ChoiceField(choices=list(CONFLICT_CODES.items()))
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class ConflictErrorResponseSerializer(serializers.Serializer[Any]):
    """409: the action conflicts with the current state; `errors[0].code` says which state. Some
    conflicts add what the client needs next, under the names below."""

    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = ConflictErrorSerializer(many=True)  # type: ignore[assignment]  # the format's key shadows Serializer.errors
    status = serializers.CharField(required=False, help_text="The campaign's current status.")
    campaigns = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="Ids of the campaigns that block the action."
    )
    segments = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="Ids of the segments that block the action."
    )
    export_id = serializers.IntegerField(required=False, help_text="The sync already pending or running.")


# Codes of a 401: DRF's, then simplejwt's (bad or expired token, its user gone or inactive, wrong
# credentials at the token endpoint).
UNAUTHENTICATED_CODES = (
    "not_authenticated",
    "authentication_failed",
    "token_not_valid",
    "bad_authorization_header",
    "user_not_found",
    "user_inactive",
    "password_changed",
    "no_active_account",
)


class UnauthenticatedErrorSerializer(serializers.Serializer[Any]):
    code = serializers.ChoiceField(choices=[(code, code) for code in UNAUTHENTICATED_CODES])
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class UnauthenticatedErrorResponseSerializer(serializers.Serializer[Any]):
    """401: no credentials, or credentials refused (the `WWW-Authenticate` header names the scheme)."""

    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = UnauthenticatedErrorSerializer(many=True)  # type: ignore[assignment]  # the format's key shadows Serializer.errors


class ThrottledErrorSerializer(serializers.Serializer[Any]):
    code = serializers.ChoiceField(choices=[("throttled", "throttled"), ("locked_out", "locked_out")])
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class ThrottledErrorResponseSerializer(serializers.Serializer[Any]):
    """429: too many requests (`throttled`) or, on the token endpoint, too many failed logins
    (`locked_out`); the `Retry-After` header gives the seconds to wait."""

    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = ThrottledErrorSerializer(many=True)  # type: ignore[assignment]  # the format's key shadows Serializer.errors


class BrevoAnswerSerializer(serializers.Serializer[Any]):
    status = serializers.IntegerField(allow_null=True, help_text="Brevo's HTTP status; null when it did not answer.")
    code = serializers.CharField(help_text="Brevo's error code.")
    message = serializers.CharField(help_text="Brevo's message.")


class UpstreamErrorSerializer(serializers.Serializer[Any]):
    code = serializers.ChoiceField(choices=[("upstream_error", "upstream_error")])
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class UpstreamErrorResponseSerializer(serializers.Serializer[Any]):
    """502: Brevo refused; 503: Brevo could not be reached (try again later). Nothing was saved."""

    type = serializers.ChoiceField(choices=ServerErrorEnum.choices)
    errors = UpstreamErrorSerializer(many=True)  # type: ignore[assignment]  # the format's key shadows Serializer.errors
    brevo = BrevoAnswerSerializer(required=False, help_text="Brevo's own answer, when it gave one.")


def conflict(description: str) -> OpenApiResponse:
    """A 409 answer in the schema, described for the operation."""
    return OpenApiResponse(response=ConflictErrorResponseSerializer, description=description)


def brevo_errors(action: str) -> dict[int, OpenApiResponse]:
    """The 502 and 503 of an operation that talks to Brevo while the client waits."""
    return {
        502: OpenApiResponse(UpstreamErrorResponseSerializer, description=f"Brevo refused to {action}."),
        503: OpenApiResponse(UpstreamErrorResponseSerializer, description=f"Brevo could not be reached to {action}."),
    }


# Token endpoints authenticate nobody, so the schema class cannot infer their 401.
BAD_CREDENTIALS = OpenApiResponse(UnauthenticatedErrorResponseSerializer, description="Wrong credentials or token.")

_RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 0},
        "description": "Seconds to wait before trying again.",
    }
}


# Ids in paths (the routers' `\d+`, `<int:pk>`): the 64-bit key they stand for.
_PATH_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def _link_created_ids(paths: dict[str, Any]) -> None:
    """OpenAPI links from every 201 with an `id` to the operations on that id: a created segment
    is what its preview, sync and delete take; a campaign, a duplicate or a follow-up draft what
    send, pause or timeline take. Clients (and Schemathesis' stateful runs) follow them."""
    for path, item in paths.items():
        for operation in item.values():
            created = operation.get("responses", {}).get("201")
            if created is None:
                continue
            resource = "/".join(path.split("/")[:3]) + "/{id}/"
            created["links"] = {
                target["operationId"]: {
                    "operationId": target["operationId"],
                    "parameters": {"id": "$response.body#/id"},
                    "description": f"The `id` answered is the `id` of {target['operationId']}.",
                }
                for target_path, target_item in paths.items()
                if target_path.startswith(resource)
                for target in target_item.values()
            }


def postprocess_contract(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Request bodies refuse unknown fields (the serializers answer 400 naming them), every 429
    carries `Retry-After`, ids in paths are integers, and created ids link to what takes them."""
    # Request components (COMPONENT_SPLIT_REQUEST names them `...Request`), nested ones included:
    # every input serializer refuses fields it does not take (core.serializers.StrictFieldsMixin).
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] == "id":
                    parameter["schema"] = dict(_PATH_ID)
            throttled = operation.get("responses", {}).get("429")
            if throttled is not None:
                throttled.setdefault("headers", {}).update(_RETRY_AFTER)
    _link_created_ids(result.get("paths", {}))
    return result
