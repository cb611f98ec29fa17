"""Reads of campaigns: the audience, lists, stats, the ledger, previews."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from accounts.models import User
from campaigns.content import (
    SAMPLE_FIRST_NAME,
    SAMPLE_LAST_NAME,
    RenderedMessage,
    recipient_personalisation,
    subject_for,
)
from campaigns.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    CampaignVariant,
    ClickTally,
    RecipientStatus,
    TrackingEvent,
)
from campaigns.rendering import campaign_content, variant_value
from core.errors import InvalidInputError
from core.months import month_start, months_back, months_ending
from segments.models import Membership
from segments.selectors import Criteria, matching_users, membership_filter, reachable_users


def campaign_audience(*, campaign: Campaign) -> QuerySet[User]:
    """Who the campaign reaches now: its preset AND its segment's criteria AND reachable."""
    users = User.objects.filter(membership_filter(campaign.target_segment))
    if campaign.segment_id is not None:
        assert campaign.segment is not None
        users = matching_users(Criteria.of(campaign.segment), base=users)
    return reachable_users(users)


# Presets no user can be in at once: a campaign aimed at one, narrowed by a segment that asks
# for the other, reaches nobody whatever the rest of the segment says.
_EXCLUSIVE_PRESETS = frozenset({frozenset({Membership.ACTIVE, Membership.INACTIVE})})


def campaign_audience_problem(*, campaign: Campaign) -> str:
    """Why the campaign's audience reaches nobody, in staff's words; "" when someone can be emailed."""
    if campaign_audience(campaign=campaign).exists():
        return ""
    preset = Membership(campaign.target_segment).label
    segment = campaign.segment if campaign.segment_id is not None else None
    if segment is not None and frozenset({campaign.target_segment, segment.membership}) in _EXCLUSIVE_PRESETS:
        return (
            f"“{preset}” and the segment “{segment.name}”, which keeps "
            f"{Membership(segment.membership).label.lower()}, exclude each other."
        )
    users = User.objects.filter(membership_filter(campaign.target_segment))
    if segment is not None:
        users = matching_users(Criteria.of(segment), base=users)
    matching = users.count()
    where = f"“{preset}” in the segment “{segment.name}”" if segment is not None else f"“{preset}”"
    if not matching:
        return f"No user matches {where}."
    return f"None of the {matching:,} users matching {where} can be emailed (unverified, opted out or suppressed)."


def campaign_list() -> QuerySet[Campaign]:
    """Campaigns with what their list rows show (segment and author joined)."""
    return Campaign.objects.select_related("segment", "created_by")


def campaign_stats(campaign: Campaign) -> dict[str, int]:
    """Ledger counts by status, from one GROUP BY over the (campaign, status, id) index.

    Keys: recipients, pending, sending, sent, failed, unknown, cancelled, then what Brevo
    reported (`TRACKING_COUNTS`, one more aggregate); `campaign_rates` turns them into rates.
    """
    by_status = dict(
        CampaignRecipient.objects.filter(campaign=campaign)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("status", "n")
    )
    stats = {status.lower(): by_status.get(status, 0) for status in RecipientStatus.values}
    return {"recipients": sum(by_status.values()), **stats, **_tracking_counts(campaign)}


def campaign_recipients(*, campaign: Campaign, status: str | None = None) -> QuerySet[CampaignRecipient]:
    """A campaign's ledger in id order, optionally one status (uses the status index)."""
    rows = CampaignRecipient.objects.filter(campaign=campaign)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("id")


def campaign_variant(*, campaign: Campaign, label: str | None) -> CampaignVariant | None:
    """The campaign's A/B variant labelled `label` (None without a label); 400 naming `variant`
    for a label it does not have."""
    if not label:
        return None
    variant = campaign.variant(label)
    if variant is None:
        labels = ", ".join(campaign.variants.values_list("label", flat=True)) or "none: it is not an A/B test"
        raise InvalidInputError(f"No variant {label} (its variants: {labels}).", field="variant")
    return variant


def campaign_preview(
    *, campaign: Campaign, user: User | None, variant: CampaignVariant | None = None
) -> RenderedMessage:
    """Subject, HTML and text exactly as `user` would get them (sample data without a user), as
    A/B `variant` when given."""
    prepared = campaign_content(campaign, variant=variant)
    if user is None:
        personalisation = recipient_personalisation(
            campaign_id=campaign.pk,
            user_id=0,
            email="alex.sample@example.com",
            first_name=SAMPLE_FIRST_NAME,
            last_name=SAMPLE_LAST_NAME,
        )
    else:
        personalisation = recipient_personalisation(
            campaign_id=campaign.pk,
            user_id=user.pk,
            email=user.email,
            first_name=user.first_name,
            last_name=user.last_name,
        )
    return prepared.render(personalisation.params)


def web_version_for(*, user_id: int, campaign_id: int) -> RenderedMessage | None:
    """The message `user_id` got from `campaign_id`, rendered with the values frozen in their
    ledger row and their own links; None when the person, the campaign or (once sending began)
    their ledger row is gone. A campaign not sent yet shows the account's values (test sends)."""
    user = User.objects.filter(pk=user_id).first()
    campaign = Campaign.objects.select_related("layout").filter(pk=campaign_id).first()
    if user is None or campaign is None:
        return None
    if campaign.audience_frozen_at is None:
        row: tuple[str, str, str, str | None] | None = (user.email, user.first_name, user.last_name, None)
    else:
        row = (
            CampaignRecipient.objects.filter(campaign=campaign, user=user)
            .values_list("email", "first_name", "last_name", "variant")
            .first()
        )
    if row is None:
        return None
    email, first_name, last_name, label = row
    personalisation = recipient_personalisation(
        campaign_id=campaign.pk, user_id=user.pk, email=email, first_name=first_name, last_name=last_name
    )
    # The A/B variant their row was sent (the campaign's own content outside a test).
    variant = campaign.variant(label)
    return campaign_content(campaign, variant=variant).render(personalisation.params)


def archived_campaigns() -> QuerySet[Campaign]:
    """Sent campaigns shown on the public archive, newest first."""
    return (
        Campaign.objects.filter(status=CampaignStatus.SENT, archive=True)
        .exclude(archive_slug="")
        .select_related("layout")
        .order_by("-sent_at", "-id")
    )


def campaign_subject_for(*, campaign: Campaign, user: User) -> str:
    """The subject as `user` received it: the names frozen in their ledger row when they have
    one (what the message carried), else their account's. Recipient pages show this."""
    row = (
        CampaignRecipient.objects.filter(campaign=campaign, user=user)
        .values_list("email", "first_name", "last_name", "variant")
        .first()
    )
    email, first_name, last_name, label = row or (user.email, user.first_name, user.last_name, None)
    params = {"email": email, "first_name": first_name, "last_name": last_name}
    variant = campaign.variant(label)
    try:
        return subject_for(variant_value(campaign, variant, "subject"), params)
    except InvalidInputError:
        # Content checked by today's rules may predate them; staff's name for it is still readable.
        return str(campaign)


# --- What Brevo reported (campaigns.services.tracking fills these ledger fields) ---------------

# Stats key -> the recipients it counts. "opened" and "clicked" are unique (one per recipient);
# "opened" counts people (a human open or a click), "machine_opened" the recipients whose only
# opens came from a proxy such as Apple Mail Privacy Protection, which opens every message;
# "bounced" is mail that will never arrive (hard bounce, invalid address, blocked by Brevo).
TRACKING_COUNTS = {
    "delivered": Q(delivered_at__isnull=False),
    "opened": Q(first_opened_at__isnull=False),
    "machine_opened": Q(first_machine_opened_at__isnull=False, first_opened_at__isnull=True),
    "clicked": Q(first_clicked_at__isnull=False),
    "bounced": Q(hard_bounced_at__isnull=False) | Q(blocked_at__isnull=False),
    "hard_bounced": Q(hard_bounced_at__isnull=False),
    "soft_bounced": Q(soft_bounced_at__isnull=False),
    "blocked": Q(blocked_at__isnull=False),
    "complained": Q(complained_at__isnull=False),
    "unsubscribed": Q(unsubscribed_at__isnull=False),
}
# Rate -> (numerator, denominator) among the stats keys. Engagement is measured against mail
# that arrived, bounces against mail sent, as Brevo's own reports do.
RATES = {
    "delivery_rate": ("delivered", "sent"),
    "open_rate": ("opened", "delivered"),
    "machine_open_rate": ("machine_opened", "delivered"),
    "click_rate": ("clicked", "delivered"),
    "click_to_open_rate": ("clicked", "opened"),
    "bounce_rate": ("bounced", "sent"),
    "complaint_rate": ("complained", "delivered"),
    "unsubscribe_rate": ("unsubscribed", "delivered"),
}


def _tracking_counts(campaign: Campaign) -> dict[str, int]:
    totals = CampaignRecipient.objects.filter(campaign=campaign).aggregate(
        **{key: Count("id", filter=condition) for key, condition in TRACKING_COUNTS.items()},
        opens=Coalesce(Sum("open_count"), 0),
        machine_opens=Coalesce(Sum("machine_open_count"), 0),
        clicks=Coalesce(Sum("click_count"), 0),
    )
    return {key: int(value) for key, value in totals.items()}


def campaign_rates(stats: dict[str, int]) -> dict[str, float | None]:
    """Rates from `campaign_stats` counts, as fractions (0.25 is 25 %); None with nothing to divide by."""
    return {
        rate: (round(stats[numerator] / stats[denominator], 4) if stats.get(denominator) else None)
        for rate, (numerator, denominator) in RATES.items()
    }


def campaign_variant_stats(campaign: Campaign, *, test_only: bool = False) -> dict[str, Any]:
    """An A/B test's counts from one GROUP BY over its ledger: `variants` maps each label to the
    counts of its test rows (recipients, sent, then `TRACKING_COUNTS`: what winners are judged
    on), `remainder` the counts of the rows that get the winner (None for a pure split).

    `test_only` leaves the remainder out (None): what the decision reads, from the test rows'
    own index (`campaign_rcpt_ab_test_idx`), not from the whole campaign's rows."""
    labels = list(campaign.variants.values_list("label", flat=True))
    if not labels:
        return {"variants": {}, "remainder": None}
    counts = {
        "recipients": Count("id"),
        "sent": Count("id", filter=Q(status=RecipientStatus.SENT)),
        **{key: Count("id", filter=condition) for key, condition in TRACKING_COUNTS.items()},
    }
    rows = CampaignRecipient.objects.filter(campaign=campaign)
    if test_only:
        rows = rows.filter(variant__isnull=False, ab_remainder=False)
    groups = rows.values("ab_remainder", "variant").annotate(**counts).order_by()
    empty = dict.fromkeys(counts, 0)
    variants = {label: dict(empty) for label in labels}
    remainder: dict[str, int] | None = dict(empty) if campaign.ab_test_share < 100 and not test_only else None
    for group in groups:
        target = remainder if group["ab_remainder"] else variants.get(group["variant"] or "")
        if target is not None:
            for key in counts:
                target[key] += int(group[key])  # type: ignore[literal-required]  # annotated above
    return {"variants": variants, "remainder": remainder}


# Rows of the per-link table: links beyond these are rare and summed in no report anyone reads.
LINK_TABLE_SIZE = 100


def campaign_link_clicks(*, campaign: Campaign, limit: int = LINK_TABLE_SIZE) -> list[dict[str, Any]]:
    """Clicks per link (all clicks, and distinct recipients who clicked), most clicked first:
    the click events kept, plus the tallies left by those retention pruned."""
    events, tallies = TrackingEvent._meta.db_table, ClickTally._meta.db_table
    sql = (
        "SELECT link, SUM(clicks) AS clicks, COUNT(DISTINCT recipient_id) AS unique_clicks FROM ("  # noqa: S608
        f"  SELECT link, recipient_id, clicks FROM {tallies} WHERE campaign_id = %s"
        "   UNION ALL"
        f"  SELECT link, recipient_id, 1 FROM {events} WHERE campaign_id = %s AND esp_event = 'click'"
        ") AS all_clicks GROUP BY link ORDER BY clicks DESC, link LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [campaign.pk, campaign.pk, limit])
        return [
            {"link": link, "clicks": int(clicks), "unique_clicks": int(unique)}
            for link, clicks, unique in cursor.fetchall()
        ]


# Months the overview covers by default and at most.
OVERVIEW_MONTHS = 12
OVERVIEW_MAX_MONTHS = 36


def campaigns_overview(*, months: int = OVERVIEW_MONTHS, now: datetime | None = None) -> dict[str, Any]:
    """Totals and a zero-filled month-by-month series over campaigns that started sending in the
    last `months` months (this one included), counted on their ledgers in the database."""
    this_month = month_start(timezone.localtime(now or timezone.now()))
    first_month = months_back(this_month, months - 1)
    counts = {
        "sent": Count("id", filter=Q(status=RecipientStatus.SENT)),
        **{key: Count("id", filter=condition) for key, condition in TRACKING_COUNTS.items()},
    }
    ledger = CampaignRecipient.objects.filter(campaign__started_at__gte=first_month)
    by_month: dict[Any, dict[str, Any]] = {}
    for row in (
        ledger.annotate(month=TruncMonth("campaign__started_at"))
        .values("month")
        .annotate(recipients=Count("id"), **counts)
        .order_by()
    ):
        values: dict[str, Any] = dict(row)
        by_month[timezone.localtime(values.pop("month")).date()] = values
    campaigns_by_month = {
        timezone.localtime(row["month"]).date(): row["n"]
        for row in Campaign.objects.filter(started_at__gte=first_month)
        .annotate(month=TruncMonth("started_at"))
        .values("month")
        .annotate(n=Count("id"))
        .order_by()
    }
    empty = {"recipients": 0, **dict.fromkeys(counts, 0)}
    series: list[dict[str, Any]] = []
    for month in months_ending(this_month, months):
        month_counts = {**empty, **by_month.get(month, {})}
        series.append({"month": month, "campaigns": campaigns_by_month.get(month, 0), **month_counts})
    totals: dict[str, int] = {key: sum(entry[key] for entry in series) for key in ("campaigns", *empty)}
    by_status = dict(Campaign.objects.values_list("status").annotate(n=Count("id")).order_by())
    return {
        "months": months,
        "since": first_month.date(),
        "totals": {**totals, **campaign_rates(totals)},
        "campaigns_by_status": {status: by_status.get(status, 0) for status in CampaignStatus.values},
        "monthly": [{**entry, **campaign_rates(entry)} for entry in series],
    }
