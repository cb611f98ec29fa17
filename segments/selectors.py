"""Who matches a segment, and who of them can be emailed.

`reachable_users` is the one place that decides who may receive mail: segment counts, campaign
audiences and snapshots, and Brevo list syncs all go through it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import BooleanField, Count, ExpressionWrapper, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts.models import STAFF_ROLES, Enrollment, Lead, LeadStatus, MembershipStatus, Property, Suppression, User
from core.charts import Chart, Series
from core.months import month_start, months_back, months_ending
from segments.criteria_providers import extra_criteria_filter
from segments.models import ExportStatus, Membership, Segment, SegmentExport, SegmentSnapshot


@dataclass(frozen=True)
class Criteria:
    """A segment's rules, saved or not. Empty means "any".

    `extra` holds the criteria other apps contribute (segments.criteria_providers), by field
    name, cleaned: only criteria in use, each in its normal form. It is not to be mutated.
    """

    gender: str = ""
    properties: tuple[int, ...] = ()
    countries: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    traffic_sources: tuple[str, ...] = ()
    agents: tuple[int, ...] = ()
    partners: tuple[int, ...] = ()
    membership: str = Membership.ALL
    extra: Mapping[str, Any] = field(default_factory=dict)

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
            extra=dict(segment.extra_criteria),
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


def matching_users(
    criteria: Criteria, *, base: QuerySet[User] | None = None, after: int | None = None, before: int | None = None
) -> QuerySet[User]:
    """Users who satisfy every criterion; each user once, however many rows matched.

    `after` / `before` keep user ids strictly between them (a preview page's keyset). The bound
    is applied to the relation subqueries too: PostgreSQL does not carry a range on users.id over
    to the other side of a semi-join, so a page from the middle would otherwise merge the
    relation's index from its first entry.
    """
    users = User.objects.all() if base is None else base
    ids = Q()
    if after is not None:
        ids &= Q(pk__gt=after)
    if before is not None:
        ids &= Q(pk__lt=before)
    user_ids = Q(user_id__gt=after) if after is not None else Q()
    if before is not None:
        user_ids &= Q(user_id__lt=before)
    users = users.filter(ids, membership_filter(criteria.membership))
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
    # Relations are tested as `id IN (SELECT user_id ...)`, a semi-join, never a JOIN, so a user
    # enrolled in two matching properties is still one row and counts stay plain COUNT(*). The
    # IN form (not EXISTS) lets PostgreSQL read the few matching user ids from the covering
    # relation indexes first and probe users by primary key; for agents, a UNION of both
    # relations replaces "EXISTS OR EXISTS", which forced a filter over every user.
    if criteria.properties:
        users = users.filter(
            pk__in=Enrollment.objects.filter(user_ids, property_id__in=criteria.properties).values("user_id")
        )
    if criteria.agents:
        users = users.filter(
            pk__in=Enrollment.objects.filter(user_ids, agent_id__in=criteria.agents)
            .values("user_id")
            .union(
                Lead.objects.filter(user_ids, agent_id__in=criteria.agents, status=LeadStatus.CLOSED).values("user_id"),
                all=True,
            )
        )
    if criteria.extra:
        users = extra_criteria_filter(users, criteria.extra, user_ids=user_ids)
    return users


def reachable_users(users: QuerySet[User]) -> QuerySet[User]:
    """Of `users`, those who may be emailed: verified address, not opted out, not suppressed.

    The rule itself is `reachable_condition()`; this applies it to a queryset.
    """
    return users.filter(reachable_condition())


def reachable_condition() -> Q:
    """Who may be emailed, as a condition on users (also usable inside an aggregate FILTER).

    The rule (verified, not opted out, address not suppressed: `accounts.services.reachability_rule`)
    reads the suppression list too; the database keeps its answer on each user row, in
    `User.reachable` (triggers on both tables), so here it is one column: no probe of the
    suppression list per user, and the covering index answers counts without the table.
    """
    return Q(reachable=True)


@dataclass(frozen=True)
class AudienceCounts:
    matching: int
    reachable: int


def criteria_counts(criteria: Criteria) -> AudienceCounts:
    """How many users match the criteria, and how many of them can be emailed: one pass over
    the matching users, the reachable rule applied as an aggregate FILTER."""
    counts = matching_users(criteria).aggregate(
        matching=Count("pk"), reachable=Count("pk", filter=reachable_condition())
    )
    return AudienceCounts(matching=counts["matching"], reachable=counts["reachable"])


# A preview page: enough rows to recognise the audience, small enough for one index range scan.
PREVIEW_PAGE_SIZE = 50
# What a preview row shows (and the API's preview serializer reads).
PREVIEW_FIELDS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "country",
    "state",
    "gender",
    "membership_status",
    "referral_source",
    "is_verified",
    "email_opted_out_at",
    "role",
)


@dataclass(frozen=True)
class PreviewCursor:
    """Where a preview page starts: the first page, the last page, or after / before a user id."""

    after: int | None = None
    before: int | None = None
    last: bool = False

    @classmethod
    def parse(cls, value: str | None) -> PreviewCursor:
        """`first` (or nothing), `last`, `after:<id>` or `before:<id>`; ValueError otherwise."""
        if not value or value == "first":
            return cls()
        if value == "last":
            return cls(last=True)
        kind, _, raw_id = value.partition(":")
        if kind not in ("after", "before") or not raw_id.isdigit():
            raise ValueError(value)
        return cls(after=int(raw_id)) if kind == "after" else cls(before=int(raw_id))


@dataclass(frozen=True)
class PreviewPage:
    users: list[User]
    reachable_ids: frozenset[int]
    next_cursor: str | None
    previous_cursor: str | None


def preview_page(criteria: Criteria, *, cursor: PreviewCursor, size: int = PREVIEW_PAGE_SIZE) -> PreviewPage:
    """One page of matching users in id order, found by keyset (never OFFSET), so the last page
    costs what the first does; plus which of them are reachable.

    Two queries: the page's ids (index-only where the criteria allow: the covering audience
    index holds every column a criterion reads), then those users' rows, each with the
    reachability rule evaluated beside it.
    """
    backwards = cursor.before is not None or cursor.last
    matching = matching_users(criteria, after=cursor.after, before=cursor.before)
    ids = list(matching.order_by("-pk" if backwards else "pk").values_list("pk", flat=True)[: size + 1])
    more = len(ids) > size
    ids = sorted(ids[:size])
    rows = (
        User.objects.filter(pk__in=ids)
        .only(*PREVIEW_FIELDS)
        .annotate(may_be_emailed=ExpressionWrapper(reachable_condition(), output_field=BooleanField()))
        .order_by("pk")
    )
    page: list[User] = list(rows)
    reachable_ids = frozenset(user.pk for user in rows if user.may_be_emailed)
    if backwards:
        has_more_before, has_more_after = more, cursor.before is not None
    else:
        has_more_before, has_more_after = cursor.after is not None, more
    return PreviewPage(
        users=page,
        reachable_ids=reachable_ids,
        next_cursor=f"after:{page[-1].pk}" if page and has_more_after else None,
        previous_cursor=f"before:{page[0].pk}" if page and has_more_before else None,
    )


def segment_list() -> QuerySet[Segment]:
    """Segments with everything their API / admin rows show, in a fixed number of queries:
    the creator joined, criteria ids and the latest export prefetched (one query each)."""
    latest_export = SegmentExport.objects.filter(segment=OuterRef("segment")).order_by("-created_at", "-id")
    return Segment.objects.select_related("created_by").prefetch_related(
        Prefetch("properties", queryset=Property.objects.only("pk")),
        Prefetch("agents", queryset=User.objects.only("pk")),
        Prefetch("partners", queryset=User.objects.only("pk")),
        Prefetch(
            "exports",
            queryset=SegmentExport.objects.filter(pk=Subquery(latest_export.values("pk")[:1])).select_related(
                "exported_by"
            ),
            to_attr="latest_exports",
        ),
    )


def segment_exports(segment: Segment) -> QuerySet[SegmentExport]:
    """A segment's export history, newest first."""
    return segment.exports.select_related("exported_by").order_by("-created_at", "-id")


# Months the stats endpoint reports, the current one included.
STATS_MONTHS = 12


def segment_stats(*, now: datetime | None = None) -> dict[str, object]:
    """Totals and a zero-filled month-by-month history, aggregated in the database (4 queries)."""
    this_month = month_start(timezone.localtime(now or timezone.now()))
    first_month = months_back(this_month, STATS_MONTHS - 1)
    segments = Segment.objects.aggregate(
        total=Count("pk"), this_month=Count("pk", filter=Q(created_at__gte=this_month))
    )
    exports = SegmentExport.objects.aggregate(
        total=Count("pk"),
        successful=Count("pk", filter=Q(status=ExportStatus.SUCCESS)),
        failed=Count("pk", filter=Q(status=ExportStatus.FAILED)),
        this_month=Count("pk", filter=Q(created_at__gte=this_month)),
    )
    segments_by_month = _count_by_month(Segment.objects.filter(created_at__gte=first_month))
    exports_by_month = _count_by_month(SegmentExport.objects.filter(created_at__gte=first_month))
    months = months_ending(this_month, STATS_MONTHS)
    return {
        "total_segments": segments["total"],
        "segments_this_month": segments["this_month"],
        "total_exports": exports["total"],
        "successful_exports": exports["successful"],
        "failed_exports": exports["failed"],
        "exports_this_month": exports["this_month"],
        "monthly": [
            {
                "month": month,
                "segments_created": segments_by_month.get(month, 0),
                "exports": exports_by_month.get(month, 0),
            }
            for month in months
        ],
    }


def _count_by_month(rows: QuerySet[Segment] | QuerySet[SegmentExport]) -> dict[date, int]:
    grouped = rows.annotate(month=TruncMonth("created_at")).values("month").annotate(n=Count("pk")).order_by()
    return {timezone.localtime(row["month"]).date(): row["n"] for row in grouped}


# Days of size history the segment form charts.
SIZE_HISTORY_DAYS = 90


def segment_size_history(*, segment: Segment, days: int = SIZE_HISTORY_DAYS, today: date | None = None) -> Chart:
    """The segment's daily snapshots over the last `days` days (one indexed range read), as a
    chart with a gap for each day without a snapshot."""
    today = today or timezone.localdate(timezone=timezone.get_default_timezone())
    first = today - timedelta(days=days - 1)
    snapshots = {
        row.day: row for row in SegmentSnapshot.objects.filter(segment=segment, day__gte=first, day__lte=today)
    }
    span = [first + timedelta(days=offset) for offset in range(days)]
    # Start at the first snapshot: a new segment's chart is not 89 empty days.
    taken = [day for day in span if day in snapshots]
    span = span[span.index(taken[0]) :] if taken else []
    return Chart(
        id=f"segment-{segment.pk}-size",
        title=f"Size of “{segment.name}” over the last {days} days",
        labels=[day.isoformat() for day in span],
        series=[
            Series("matching", "Matching", [snapshots[day].matching if day in snapshots else None for day in span]),
            Series("reachable", "Reachable", [snapshots[day].reachable if day in snapshots else None for day in span]),
        ],
        note="One snapshot a day (site time zone); days without one are gaps.",
        summary_kind="latest",
    )


# --- What the segment builder offers and flags ---------------------------------------------------

# The user columns whose values staff pick from (state, traffic source): most common first, at
# most this many (a datalist longer than this is not read by anyone).
KNOWN_VALUES_LIMIT = 300
_VALUE_COLUMNS = {"states": "state", "traffic_sources": "referral_source"}


def known_values(criterion: str) -> list[tuple[str, int]]:
    """The values users have for a criterion ("states" or "traffic_sources"), with how many users
    have each, most common first: one GROUP BY over the column's index."""
    column = _VALUE_COLUMNS[criterion]
    rows = (
        User.objects.exclude(**{column: ""})
        .values_list(column)
        .annotate(n=Count("pk"))
        .order_by("-n", column)[:KNOWN_VALUES_LIMIT]
    )
    return [(value, count) for value, count in rows]


def values_matching_nobody(criterion: str, values: Iterable[str]) -> list[str]:
    """Of `values` typed for a criterion, those no user has (a typo, or a value not seen yet)."""
    wanted = list(dict.fromkeys(values))
    if not wanted:
        return []
    column = _VALUE_COLUMNS[criterion]
    found = set(User.objects.filter(**{f"{column}__in": wanted}).values_list(column, flat=True).distinct())
    return [value for value in wanted if value not in found]


def unreachable_reasons(users: Iterable[User]) -> dict[int, str]:
    """Why each of `users` cannot be emailed, in staff's words; reachable users are absent.

    The three parts of the rule (`accounts.services.reachability_rule`), told apart: one query for
    the suppressions.
    """
    users = list(users)
    emails = {user.email.lower() for user in users}
    suppressed = {
        row.email: _lower_first(row.get_reason_display()) for row in Suppression.objects.filter(email__in=emails)
    }
    reasons: dict[int, str] = {}
    for user in users:
        why = []
        if not user.is_verified:
            why.append("address not verified")
        if user.email_opted_out_at is not None:
            why.append(f"opted out on {timezone.localtime(user.email_opted_out_at):%Y-%m-%d}")
        if user.email.lower() in suppressed:
            why.append(f"suppressed: {suppressed[user.email.lower()]}")
        if why:
            reasons[user.pk] = "; ".join(why)
    return reasons


def _lower_first(label: str) -> str:
    return label[:1].lower() + label[1:]
