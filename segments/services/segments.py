"""Segment writes: create, update, delete, cached counts, and the validation they all share.

The API and the admin call these functions and nothing else, so a rule checked here holds for
both. Each write runs in one transaction: nothing is half-saved when a check fails.
"""

from __future__ import annotations

import dataclasses

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Gender, PartnershipStatus, Property, Role, User
from core.errors import InvalidInputError
from segments.countries import COUNTRY_CODES
from segments.criteria_providers import extra_criteria_clean
from segments.dependents import segment_dependents
from segments.models import Membership, Segment
from segments.selectors import Criteria, criteria_counts
from segments.services.exports import segment_list_delete, segment_list_provision, segment_list_rename

# Column widths of the user fields these criteria compare with: a longer value can never match.
_MAX_LENGTH = {
    "states": User._meta.get_field("state").max_length,
    "traffic_sources": User._meta.get_field("referral_source").max_length,
}


def _clean_strings(values: tuple[str, ...]) -> tuple[str, ...]:
    """Stripped, without blanks or repeats, in a stable order."""
    return tuple(sorted({value.strip() for value in values if value.strip()}))


def _ids_missing(wanted: tuple[int, ...], found: set[int]) -> str:
    return ", ".join(str(pk) for pk in wanted if pk not in found)


def criteria_validate(*, criteria: Criteria) -> Criteria:
    """Normalise criteria and check them against the database.

    Raises InvalidInputError naming the first bad field, with every other bad field in the
    payload too, so a form can show all problems at once.
    """
    criteria = dataclasses.replace(
        criteria,
        gender=criteria.gender.strip(),
        properties=tuple(sorted(set(criteria.properties))),
        countries=tuple(sorted({code.strip().upper() for code in criteria.countries if code.strip()})),
        states=_clean_strings(criteria.states),
        traffic_sources=_clean_strings(criteria.traffic_sources),
        agents=tuple(sorted(set(criteria.agents))),
        partners=tuple(sorted(set(criteria.partners))),
        membership=criteria.membership or Membership.ALL,
    )
    extra, extra_errors = extra_criteria_clean(criteria.extra)
    criteria = dataclasses.replace(criteria, extra=extra)
    errors: dict[str, str] = {}
    if criteria.gender and criteria.gender not in Gender.values:
        errors["gender"] = f"“{criteria.gender}” is not a gender; use one of {', '.join(Gender.values)}."
    if criteria.membership not in Membership.values:
        errors["membership"] = (
            f"“{criteria.membership}” is not a membership preset; use one of {', '.join(Membership.values)}."
        )
    unknown_countries = [code for code in criteria.countries if code not in COUNTRY_CODES]
    if unknown_countries:
        errors["countries"] = f"Not ISO 3166-1 alpha-2 country codes: {', '.join(unknown_countries)}."
    for field, limit in _MAX_LENGTH.items():
        too_long = [value for value in getattr(criteria, field) if limit is not None and len(value) > limit]
        if too_long:
            errors[field] = f"Values longer than {limit} characters can never match: {', '.join(too_long)}."
    if criteria.properties:
        found = set(Property.objects.filter(pk__in=criteria.properties).values_list("pk", flat=True))
        if missing := _ids_missing(criteria.properties, found):
            errors["properties"] = f"No such properties: {missing}."
    if criteria.agents:
        found = set(User.objects.filter(pk__in=criteria.agents, role=Role.AGENT).values_list("pk", flat=True))
        if missing := _ids_missing(criteria.agents, found):
            errors["agents"] = f"These users do not exist or are not agents: {missing}."
    if criteria.partners:
        found = set(
            User.objects.filter(
                pk__in=criteria.partners, role=Role.PARTNER, partnership_status=PartnershipStatus.ACTIVE
            ).values_list("pk", flat=True)
        )
        if missing := _ids_missing(criteria.partners, found):
            errors["partners"] = f"These users do not exist or are not active partners: {missing}."
    errors.update(extra_errors)
    if not errors and criteria.is_empty():
        errors["criteria"] = (
            f"Choose at least one criterion; a membership other than “{Membership.ALL.label}” counts as one."
        )
    if errors:
        first, *others = errors
        raise InvalidInputError(errors[first], field=first, extra={field: [errors[field]] for field in others})
    return criteria


def segment_name_validate(*, name: str, segment_id: int | None) -> str:
    """The stripped name, if no other segment has it (case-insensitively); InvalidInputError if not."""
    name = name.strip()
    if not name:
        raise InvalidInputError("A segment needs a name.", field="name")
    others = Segment.objects.filter(name__iexact=name)
    if segment_id is not None:
        others = others.exclude(pk=segment_id)
    if others.exists():
        raise InvalidInputError(f"A segment named “{name}” already exists (names ignore case).", field="name")
    return name


def _criteria_apply(segment: Segment, criteria: Criteria) -> None:
    """Copy the column criteria onto the row; `_relations_apply` does the many-to-many ones."""
    segment.gender = criteria.gender
    segment.countries = list(criteria.countries)
    segment.states = list(criteria.states)
    segment.traffic_sources = list(criteria.traffic_sources)
    segment.membership = criteria.membership
    segment.extra_criteria = dict(criteria.extra)


def _relations_apply(segment: Segment, criteria: Criteria) -> None:
    segment.properties.set(criteria.properties)
    segment.agents.set(criteria.agents)
    segment.partners.set(criteria.partners)


def _save(segment: Segment) -> None:
    # The case-insensitive unique constraint is the real guard: two saves racing past the
    # friendly check above still cannot both win, and the loser gets the same 400.
    try:
        with transaction.atomic():
            segment.save()
    except IntegrityError as error:
        if Segment.objects.filter(name__iexact=segment.name).exclude(pk=segment.pk).exists():
            raise InvalidInputError(
                f"A segment named “{segment.name}” already exists (names ignore case).", field="name"
            ) from error
        raise


def segment_counts_refresh(*, segment: Segment) -> Segment:
    """Count the segment's matching and reachable users now and store them on the row."""
    counts = criteria_counts(Criteria.of(segment))
    segment.matching_count = counts.matching
    segment.reachable_count = counts.reachable
    segment.counts_refreshed_at = timezone.now()
    # A plain UPDATE: refreshing counts must not bump updated_at or touch the criteria.
    Segment.objects.filter(pk=segment.pk).update(
        matching_count=segment.matching_count,
        reachable_count=segment.reachable_count,
        counts_refreshed_at=segment.counts_refreshed_at,
    )
    return segment


def segment_create(*, by: User, name: str, criteria: Criteria, description: str = "") -> Segment:
    """Validate and save a new segment with its criteria and fresh member counts.

    With Brevo configured, the segment's Brevo list is created first: if Brevo refuses or is
    down, UpstreamError (502/503) and nothing is saved; if the save fails, the list is deleted.
    """
    name = segment_name_validate(name=name, segment_id=None)
    criteria = criteria_validate(criteria=criteria)
    # The transaction sits inside the list's block, so a failed commit also deletes the list.
    with segment_list_provision(name=name) as brevo_list_id, transaction.atomic():
        segment = Segment(name=name, description=description.strip(), created_by=by, brevo_list_id=brevo_list_id)
        _criteria_apply(segment, criteria)
        _save(segment)
        _relations_apply(segment, criteria)
        return segment_counts_refresh(segment=segment)


@transaction.atomic
def segment_update(
    *, segment: Segment, name: str | None = None, description: str | None = None, criteria: Criteria | None = None
) -> Segment:
    """Change a segment's name, description and/or criteria (None keeps the current value)."""
    # Row lock: two concurrent edits apply one after the other, each validated on fresh data.
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    previous_name = segment.name
    if name is not None:
        segment.name = segment_name_validate(name=name, segment_id=segment.pk)
    if description is not None:
        segment.description = description.strip()
    if criteria is not None:
        criteria = criteria_validate(criteria=criteria)
        _criteria_apply(segment, criteria)
    _save(segment)
    if criteria is not None:
        _relations_apply(segment, criteria)
    segment = segment_counts_refresh(segment=segment)
    if segment.name != previous_name:
        # Last step of the transaction: a Brevo refusal (502/503) rolls the whole edit back.
        segment_list_rename(segment=segment)
    return segment


@transaction.atomic
def segment_delete(*, segment: Segment) -> None:
    """Delete a segment unless a draft or unfinished campaign still targets it (409).

    Finished campaigns (sent, cancelled, failed) keep their frozen recipients ledger and just
    lose the link. Both rows are locked, so a campaign cannot start using the segment meanwhile.
    The campaigns' side of that rule is theirs, asked through `segments.dependents`.
    """
    locked = Segment.objects.select_for_update().filter(pk=segment.pk).first()
    if locked is None:
        return
    for dependents in segment_dependents():
        dependents.release(locked)
    # Brevo before the row: if Brevo refuses (502/503), the segment is kept and can be deleted
    # again later; a list already gone in Brevo is fine.
    segment_list_delete(segment=locked)
    locked.delete()
