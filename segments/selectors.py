"""Who matches a segment, and who of them can be emailed.

`reachable_users` is the one place that decides who may receive mail: segment counts, campaign
audiences and snapshots, and Brevo list syncs all go through it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Lower

from accounts.models import STAFF_ROLES, Enrollment, Lead, LeadStatus, MembershipStatus, Suppression, User
from segments.models import Membership, Segment


@dataclass(frozen=True)
class Criteria:
    """A segment's rules, saved or not. Empty means "any"."""

    gender: str = ""
    properties: tuple[int, ...] = ()
    countries: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    traffic_sources: tuple[str, ...] = ()
    agents: tuple[int, ...] = ()
    partners: tuple[int, ...] = ()
    membership: str = Membership.ALL

    @classmethod
    def of(cls, segment: Segment) -> Criteria:
        """The criteria of a saved segment (three small queries for its many-to-many ids)."""
        return cls(
            gender=segment.gender,
            properties=_ids(segment.properties.all()),
            countries=tuple(segment.countries),
            states=tuple(segment.states),
            traffic_sources=tuple(segment.traffic_sources),
            agents=_ids(segment.agents.all()),
            partners=_ids(segment.partners.all()),
            membership=segment.membership,
        )

    def is_empty(self) -> bool:
        return self == Criteria(membership=Membership.ALL) or self == Criteria()


def _ids(queryset: Iterable[object]) -> tuple[int, ...]:
    return tuple(sorted(obj.pk for obj in queryset))  # type: ignore[attr-defined]


def membership_filter(membership: str) -> Q:
    """The campaign presets: ALL, ACTIVE / INACTIVE members, or STAFF roles."""
    if membership == Membership.ACTIVE:
        return Q(membership_status=MembershipStatus.ACTIVE)
    if membership == Membership.INACTIVE:
        return Q(membership_status=MembershipStatus.INACTIVE)
    if membership == Membership.STAFF:
        return Q(role__in=sorted(STAFF_ROLES))
    return Q()


def matching_users(criteria: Criteria, *, base: QuerySet[User] | None = None) -> QuerySet[User]:
    """Users who satisfy every criterion; each user once, however many rows matched."""
    users = User.objects.all() if base is None else base
    users = users.filter(membership_filter(criteria.membership))
    if criteria.gender:
        users = users.filter(gender=criteria.gender)
    if criteria.countries:
        users = users.filter(country__in=criteria.countries)
    if criteria.states:
        users = users.filter(state__in=criteria.states)
    if criteria.traffic_sources:
        users = users.filter(referral_source__in=criteria.traffic_sources)
    if criteria.partners:
        users = users.filter(referred_by_partner_id__in=criteria.partners)
    # Relations are tested with EXISTS (a semi-join), never a JOIN, so a user enrolled in two
    # matching properties is still one row and counts stay plain COUNT(*).
    if criteria.properties:
        users = users.filter(
            Exists(Enrollment.objects.filter(user_id=OuterRef("pk"), property_id__in=criteria.properties))
        )
    if criteria.agents:
        users = users.filter(
            Exists(Enrollment.objects.filter(user_id=OuterRef("pk"), agent_id__in=criteria.agents))
            | Exists(
                Lead.objects.filter(user_id=OuterRef("pk"), agent_id__in=criteria.agents, status=LeadStatus.CLOSED)
            )
        )
    return users


def reachable_users(users: QuerySet[User]) -> QuerySet[User]:
    """Of `users`, those who may be emailed: verified address, not opted out, not suppressed."""
    # Suppressions are stored lower-cased and unique, so NOT EXISTS is an anti-join probing that
    # unique index (or hashing the small suppression table) once per user: no JOIN fan-out,
    # no DISTINCT, and counts stay plain COUNT(*).
    suppressed = Suppression.objects.filter(email=Lower(OuterRef("email")))
    return users.filter(is_verified=True, email_opted_out_at__isnull=True).exclude(Exists(suppressed))
