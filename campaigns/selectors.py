"""Reads of campaigns: the audience, lists, stats, the ledger, previews."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from accounts.models import User
from campaigns.content import (
    SAMPLE_FIRST_NAME,
    SAMPLE_LAST_NAME,
    RenderedMessage,
    prepare_content,
    recipient_personalisation,
)
from campaigns.models import Campaign, CampaignRecipient, RecipientStatus
from segments.selectors import Criteria, matching_users, membership_filter, reachable_users


def campaign_audience(*, campaign: Campaign) -> QuerySet[User]:
    """Who the campaign reaches now: its preset AND its segment's criteria AND reachable."""
    users = User.objects.filter(membership_filter(campaign.target_segment))
    if campaign.segment_id is not None:
        assert campaign.segment is not None
        users = matching_users(Criteria.of(campaign.segment), base=users)
    return reachable_users(users)


def campaign_list() -> QuerySet[Campaign]:
    """Campaigns with what their list rows show (segment and author joined)."""
    return Campaign.objects.select_related("segment", "created_by")


def campaign_stats(campaign: Campaign) -> dict[str, int]:
    """Ledger counts by status, from one GROUP BY over the (campaign, status, id) index.

    Keys: recipients, pending, sending, sent, failed, unknown, cancelled. Tracking counts
    (delivered, opened, ...) are added to the same dictionary by the tracking module.
    """
    by_status = dict(
        CampaignRecipient.objects.filter(campaign=campaign)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("status", "n")
    )
    stats = {status.lower(): by_status.get(status, 0) for status in RecipientStatus.values}
    return {"recipients": sum(by_status.values()), **stats}


def campaign_recipients(*, campaign: Campaign, status: str | None = None) -> QuerySet[CampaignRecipient]:
    """A campaign's ledger in id order, optionally one status (uses the status index)."""
    rows = CampaignRecipient.objects.filter(campaign=campaign)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("id")


def campaign_preview(*, campaign: Campaign, user: User | None) -> RenderedMessage:
    """Subject, HTML and text exactly as `user` would get them (sample data without a user)."""
    prepared = prepare_content(
        subject=campaign.subject,
        preheader=campaign.preheader,
        body_html=campaign.body_html,
        body_text=campaign.body_text,
    )
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
