"""What every API input serializer shares: unknown fields are refused, not ignored, so a typo
in a field name is a 400 naming it instead of a silently dropped value (the schema says so with
`additionalProperties: false` on every request body, see `core.openapi`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail


def _json_type_problem(field: serializers.Field, value: Any) -> str | dict[int, str] | None:
    """Why `value` is not of the JSON type the schema gives `field` (for a list, by item), or
    None. DRF would coerce (`0` to "0" or False, "12" to 12), accepting what the schema calls
    invalid."""
    if value is None:
        return None  # the field's own allow_null decides
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField | serializers.PrimaryKeyRelatedField):
        return None if isinstance(value, int) and not isinstance(value, bool) else "Must be an integer."
    if isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            return "Must be a list."
        child = field.child
        items = {index: _json_type_problem(child, item) for index, item in enumerate(value)} if child else {}
        return {index: problem for index, problem in items.items() if isinstance(problem, str)} or None
    textual = isinstance(field, serializers.CharField | serializers.DateTimeField | serializers.DateField)
    if isinstance(field, serializers.ChoiceField):
        textual = all(isinstance(choice, str) for choice in field.choices)
    if textual and not isinstance(value, str):
        return "Must be a string."
    return None


def _invalid_type(problem: str | dict[int, str]) -> Any:
    if isinstance(problem, str):
        return [ErrorDetail(problem, code="invalid_type")]
    return {index: [ErrorDetail(message, code="invalid_type")] for index, message in problem.items()}


class StrictFieldsMixin:
    """Takes JSON as the schema states it: keys the serializer does not take are refused (400,
    code `unknown_field`, one error per key naming it), and so are values of another JSON type
    (code `invalid_type`) that DRF alone would coerce."""

    fields: Any

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name: field for name, field in self.fields.items() if not field.read_only}
            errors = {
                str(key): [ErrorDetail("Unknown field.", code="unknown_field")] for key in data if key not in writable
            }
            for name, value in data.items():
                problem = _json_type_problem(writable[name], value) if name in writable else None
                if problem:
                    errors[name] = _invalid_type(problem)
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]


# Every table's key is a 64-bit integer (DEFAULT_AUTO_FIELD is BigAutoField): an id past it
# could never match and would overflow the database's integer on the way there.
MAX_ID = 2**63 - 1


def id_field(**kwargs: Any) -> serializers.IntegerField:
    """An integer that can be a row's id: 1 to MAX_ID, bounds the schema states."""
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


@extend_schema_field(
    {"anyOf": [{"type": "string", "format": "email"}, {"type": "string", "maxLength": 0}], "maxLength": 254}
)
class OptionalEmailField(serializers.EmailField):
    """An email address or "" (none given), as the schema says: `format: email` alone would
    call the empty string invalid."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("max_length", 254)
        super().__init__(**kwargs)
