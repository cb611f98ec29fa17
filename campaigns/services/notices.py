"""Emails to staff about their campaigns: a campaign Brevo's refusal paused is told to its creator."""

from __future__ import annotations

import logging

from anymail.exceptions import AnymailError
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.urls import reverse

from campaigns.models import Campaign, CampaignStatus

logger = logging.getLogger(__name__)


def campaign_hold_notify(*, campaign_id: int) -> bool:
    """Tell the creator of a campaign paused by an account-level refusal why, how far it got and
    where to resume it. It goes through the project's mail backend (Brevo through Anymail, or the
    outbox); when Brevo refuses it too (an account without credits sends nothing), it is written
    to the local outbox so the notice is not lost. False when there is nobody to tell, or the
    campaign was resumed meanwhile."""
    campaign = Campaign.objects.select_related("created_by").filter(pk=campaign_id).first()
    if campaign is None or campaign.status != CampaignStatus.PAUSED or campaign.created_by is None:
        return False
    if not campaign.created_by.email:
        return False
    page = f"{settings.SITE_URL}{reverse('admin:campaigns_campaign_change', args=[campaign.pk])}"
    message = EmailMessage(
        subject=f"Campaign paused: {campaign}",
        body=(
            f"{campaign.status_reason}\n\n"
            f"{campaign.recipient_count:,} of {campaign.recipients_total:,} recipients were accepted before it "
            "paused; the others are waiting and none of them failed.\n\n"
            f"Resume it once the account is fixed: {page}\n"
        ),
        to=[campaign.created_by.email],
    )
    try:
        message.send()
    except (AnymailError, OSError):
        logger.warning("campaign %s: the pause notice was refused, written to the outbox", campaign_id, exc_info=True)
        get_connection(settings.NOTICE_FALLBACK_EMAIL_BACKEND).send_messages([message])
    return True
