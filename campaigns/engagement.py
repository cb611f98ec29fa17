"""Engagement criteria: segments built from what campaigns learned, read from the ledger.

What each criterion means and how it is checked; `campaigns.criteria` offers them to the
segments engine (segments never imports campaigns). On the ledger:

- a person *received* a campaign when one of their rows of it is SENT (Brevo accepted it);
- *opened* means a human open or a click (`first_opened_at`); machine opens never count;
- *clicked* means `first_clicked_at`; engagement in a window means `last_engaged_at`.

Every criterion reads `EngagementSummary`, what the database derives per person from these rows
(the campaigns they received, opened and clicked, and the latest times): one row per person
instead of one per person and campaign (11M at a million people and 20 campaigns), and all the
criteria of a segment in one pass over it.

Rows are matched to people by `user_id`, never by address, so a row written with another case
of the address, or several rows of one campaign after an address change and a resend, belong
to the same person. Who of them may be emailed is decided on top by `reachable_users`, as for
every criterion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from campaigns.models import Campaign, CampaignStatus, EngagementSummary
from segments.models import Membership, Segment
from segments.selectors import Criteria, matching_users, membership_filter, reachable_users

# Campaigns a criterion may name: any that began sending. Drafts and scheduled ones have no
# recipients yet, so a criterion naming them could only ever match nobody (or everybody).
NEVER_SENT = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
MAX_DAYS = 3650

# Field -> (the summary's set of campaigns one of the named ones must be in, and the set none of
# them may be in).
CAMPAIGN_CRITERIA: dict[str, tuple[str, str | None]] = {
    "received_campaigns": ("received_campaigns", None),
    "opened_campaigns": ("opened_campaigns", None),
    "clicked_campaigns": ("clicked_campaigns", None),
    "not_opened_campaigns": ("received_campaigns", "opened_campaigns"),
    "not_clicked_campaigns": ("received_campaigns", "clicked_campaigns"),
}
# (positive, negative) pairs no one can satisfy for the same campaign: a click implies an open.
CONTRADICTIONS = (
    ("opened_campaigns", "not_opened_campaigns"),
    ("clicked_campaigns", "not_clicked_campaigns"),
    ("clicked_campaigns", "not_opened_campaigns"),
)
DAYS_CRITERIA = ("engaged_within_days", "not_engaged_within_days")


def _ids(value: Iterable[int] | None) -> list[int]:
    return sorted({int(pk) for pk in value or ()})


def engagement_criteria_clean(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Normalised criteria (unused ones left out) and an error per bad field: campaigns that do not
    exist or were never sent, days outside 1..MAX_DAYS, a pair that can never match."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in CAMPAIGN_CRITERIA:
        if ids := _ids(values.get(name)):
            cleaned[name] = ids
    for name in DAYS_CRITERIA:
        days = values.get(name)
        if days is None:
            continue
        if not 1 <= days <= MAX_DAYS:
            errors[name] = f"Give a number of days from 1 to {MAX_DAYS}."
        else:
            cleaned[name] = days
    named = {pk for name in CAMPAIGN_CRITERIA for pk in cleaned.get(name, ())}
    statuses = dict(Campaign.objects.filter(pk__in=named).values_list("pk", "status"))
    for name in CAMPAIGN_CRITERIA:
        ids = cleaned.get(name, [])
        problems = []
        if missing := [pk for pk in ids if pk not in statuses]:
            problems.append(f"No such campaigns: {', '.join(map(str, missing))}.")
        if never_sent := [pk for pk in ids if statuses.get(pk) in NEVER_SENT]:
            problems.append(f"Campaigns never sent (draft or scheduled): {', '.join(map(str, never_sent))}.")
        if problems:
            errors[name] = " ".join(problems)
    for positive, negative in CONTRADICTIONS:
        both = sorted(set(cleaned.get(positive, ())) & set(cleaned.get(negative, ())))
        if both and negative not in errors:
            errors[negative] = (
                f"Campaign(s) {', '.join(map(str, both))} also in {positive}: "
                "nobody can be in both, so this can never match."
            )
    return cleaned, errors


def engagement_filter(users: QuerySet[User], values: Mapping[str, Any], *, user_ids: Q | None = None) -> QuerySet[User]:
    """`users` narrowed by every cleaned engagement criterion in `values`; `user_ids` (a preview
    page's keyset bound on `user_id`) goes into the subquery, so a page from the middle of a
    large audience starts the summary's primary key there instead of at its first entry."""
    now = timezone.now()
    # Every criterion is a condition on the person's one summary row (see EngagementSummary for
    # why it is exact), so they combine into a single subquery: one semi-join, however many.
    wanted = user_ids or Q()
    for name, (within, outside) in CAMPAIGN_CRITERIA.items():
        if name in values:
            keys = [str(pk) for pk in values[name]]
            wanted &= Q(**{f"{within}__has_any_keys": keys})
            if outside is not None:
                wanted &= ~Q(**{f"{outside}__has_any_keys": keys})
    if "engaged_within_days" in values:
        wanted &= Q(last_engaged_at__gte=now - timedelta(days=values["engaged_within_days"]))
    if "not_engaged_within_days" in values:
        since = now - timedelta(days=values["not_engaged_within_days"])
        # The negation of a comparison with NULL is NULL, not true: spelled out.
        wanted &= Q(last_received_at__gte=since) & (
            Q(last_opened_received_at__isnull=True) | Q(last_opened_received_at__lt=since)
        )
    return users.filter(pk__in=EngagementSummary.objects.filter(wanted).values("user_id"))


def segments_naming(campaign_id: int) -> list[Segment]:
    """Saved segments whose engagement criteria name the campaign, by name."""
    candidates = Segment.objects.filter(extra_criteria__has_any_keys=list(CAMPAIGN_CRITERIA)).order_by("name")
    # Segments are few; reading their criteria here works the same on every database.
    return [
        segment
        for segment in candidates.only("pk", "name", "extra_criteria")
        if any(campaign_id in segment.extra_criteria.get(name, ()) for name in CAMPAIGN_CRITERIA)
    ]


# --- Follow-ups: a campaign's recipients by what they did with it ------------------------------

# Audience -> (the criterion naming the campaign, how the audience reads in names).
FOLLOW_UP_AUDIENCES = {
    "not_opened": ("not_opened_campaigns", "did not open"),
    "not_clicked": ("not_clicked_campaigns", "did not click"),
    "opened": ("opened_campaigns", "opened"),
    "clicked": ("clicked_campaigns", "clicked"),
}


def follow_up_criteria(*, campaign: Campaign, audience: str) -> Criteria:
    """The criteria of a follow-up to `campaign`: its segment's criteria (its preset as the
    membership when the segment sets none) and the engagement criterion of `audience` naming it.

    Within a criterion a list means "any of", so a criterion the segment already uses cannot be
    added again with "and". The campaign's recipients were drawn from that segment, so:
    "opened / clicked one of these" held for each of them and still does (an open is never
    undone): the follow-up's own campaign replaces the list. "Received none opened / clicked"
    can stop holding, so the campaign joins the list and "received this campaign" keeps the
    audience to its recipients (each of whom received one of the listed ones, which stays true).
    """
    base = Criteria.of(campaign.segment) if campaign.segment is not None else Criteria()
    membership = base.membership if base.membership != Membership.ALL else campaign.target_segment
    field = FOLLOW_UP_AUDIENCES[audience][0]
    extra = dict(base.extra)
    if field in extra and CAMPAIGN_CRITERIA[field][1] is not None:
        extra[field] = sorted({*extra[field], campaign.pk})
        extra["received_campaigns"] = [campaign.pk]
    else:
        extra[field] = [campaign.pk]
    return replace(base, membership=membership, extra=extra)


def follow_up_sizes(*, campaign: Campaign) -> dict[str, int]:
    """How many people each follow-up would reach now: its criteria, the campaign's preset, reachable."""
    preset = User.objects.filter(membership_filter(campaign.target_segment))
    return {
        audience: reachable_users(
            matching_users(follow_up_criteria(campaign=campaign, audience=audience), base=preset)
        ).count()
        for audience in FOLLOW_UP_AUDIENCES
    }
