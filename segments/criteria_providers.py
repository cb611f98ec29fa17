"""Criteria that apps above segments contribute, registered from their `AppConfig.ready()`.

A segment may say "opened campaign 12", but what that means lives in the campaigns app (its
ledger), which segments may not import. So the criteria engine offers a seam: a provider names
its fields, validates their values and narrows a queryset of users; the engine does the rest
everywhere criteria work (storage in `Segment.extra_criteria`, the API's input and output, the
admin form, counts, previews, campaign audiences, Brevo list syncs). Adding a kind of criterion
means registering a provider, never editing the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from django import forms
from django.db.models import Q, QuerySet
from rest_framework import serializers

from accounts.models import User


@dataclass(frozen=True)
class CriterionField:
    """One criterion a provider contributes."""

    # The API field's name and the key in `Segment.extra_criteria`.
    name: str
    # The value that means "not used" (an empty list, None): the engine stores nothing for it.
    empty: Any
    # Builds the API field. The engine passes `required=False` for input, or `read_only=True`,
    # `source` and `default` for output, so one definition serves both.
    api_field: Callable[..., serializers.Field]
    # Builds the admin form field; its cleaned value is what the provider's `clean` receives.
    form_field: Callable[[], forms.Field]


class CriterionProvider(Protocol):
    """A family of criteria, validated together (a contradiction may span two of its fields)."""

    # The admin form's fieldset heading for these fields.
    title: str
    fields: tuple[CriterionField, ...]

    def clean(self, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """The given values normalised (those that mean "not used" left out, so equal criteria
        compare equal and store alike), and an error message per bad field."""
        ...

    def filter(self, users: QuerySet[User], values: Mapping[str, Any], *, user_ids: Q) -> QuerySet[User]:
        """`users` narrowed to those matching every one of `values` (cleaned, never empty).

        `user_ids` is the preview page's keyset bound as a condition on a `user_id` column (empty
        for counts): a provider that tests `id IN (SELECT user_id ...)` adds it to that subquery,
        since PostgreSQL does not carry a range on users.id to the other side of a semi-join.
        """
        ...


_registered: list[CriterionProvider] = []


class CriterionFieldClashError(Exception):
    """Two providers, or a provider and the engine, claim the same field name."""


# The engine's own criteria (segments.selectors.Criteria); a provider may not reuse these names.
ENGINE_FIELDS = frozenset(
    {"gender", "properties", "countries", "states", "traffic_sources", "agents", "partners", "membership"}
)


def criteria_provider_register(provider: CriterionProvider) -> None:
    """Add `provider` to every place criteria work; registering it twice keeps one entry."""
    if provider in _registered:
        return
    taken = ENGINE_FIELDS | set(provided_fields())
    clashes = sorted(field.name for field in provider.fields if field.name in taken)
    if clashes:
        raise CriterionFieldClashError(f"Criterion field(s) already defined: {', '.join(clashes)}.")
    _registered.append(provider)


def criteria_providers() -> tuple[CriterionProvider, ...]:
    """Every registered provider, in registration order."""
    return tuple(_registered)


def provided_fields() -> dict[str, CriterionField]:
    """Every contributed field by name, in registration order."""
    return {field.name: field for provider in _registered for field in provider.fields}


def extra_criteria_clean(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Normalise and check contributed criteria with their providers; unknown names are errors."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    known = provided_fields()
    for name in values:
        if name not in known:
            errors[name] = f"“{name}” is not a criterion."
    for provider in _registered:
        mine = {field.name: values[field.name] for field in provider.fields if field.name in values}
        if not mine:
            continue
        provider_cleaned, provider_errors = provider.clean(mine)
        cleaned.update(provider_cleaned)
        errors.update(provider_errors)
    return cleaned, errors


def extra_criteria_filter(
    users: QuerySet[User], values: Mapping[str, Any], *, user_ids: Q | None = None
) -> QuerySet[User]:
    """`users` narrowed by each provider whose criteria `values` uses (`user_ids`: see `filter`)."""
    for provider in _registered:
        mine = {field.name: values[field.name] for field in provider.fields if field.name in values}
        if mine:
            users = provider.filter(users, mine, user_ids=user_ids or Q())
    return users
