"""How a sending campaign stops: SENT once nothing is left to send, FAILED on a campaign-level
fault, PAUSED (held) when the Brevo account cannot send until someone fixes it."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from campaigns import queue
from campaigns.models import CampaignRecipient, RecipientStatus
from campaigns.services.state_machine import campaign_transition

logger = logging.getLogger(__name__)


def campaign_finish_if_done(*, campaign_id: int) -> bool:
    """SENDING -> SENT once no recipient is pending or in flight; True for the call that did it."""
    open_rows = CampaignRecipient.objects.filter(
        campaign_id=OuterRef("pk"), status__in=[RecipientStatus.PENDING, RecipientStatus.SENDING]
    )
    now = timezone.now()
    finished = campaign_transition(
        campaign_id=campaign_id,
        action="finish",
        changes={"sent_at": now, "updated_at": now},
        conditions=(Q(audience_frozen_at__isnull=False), ~Exists(open_rows)),
    )
    if finished:
        logger.info("campaign %s: sent", campaign_id)
    return bool(finished)


@transaction.atomic
def campaign_fail(*, campaign_id: int, reason: str) -> bool:
    """SENDING / PAUSED -> FAILED for a campaign-level fault (say Brevo refuses the sender).

    Recipients not yet sent become FAILED with the reason, so an operator can fix the cause and
    send them with `resend_campaign --failed`. True if this call failed the campaign.
    """
    failed = campaign_transition(campaign_id=campaign_id, action="fail", changes={"status_reason": reason})
    if failed:
        CampaignRecipient.objects.filter(campaign_id=campaign_id, status=RecipientStatus.PENDING).update(
            status=RecipientStatus.FAILED, last_error=f"Not sent: the campaign failed. {reason}"
        )
    return failed


@transaction.atomic
def campaign_hold(*, campaign_id: int, reason: str) -> bool:
    """SENDING -> PAUSED because the account cannot send (no credits, sender or account not
    allowed): no recipient fails, the creator is told by email, and staff resume it once the
    account is fixed. True for the one call that paused it (so one notice goes out)."""
    held = campaign_transition(
        campaign_id=campaign_id,
        action="hold",
        changes={"status_reason": reason, "waiting_until": None, "waiting_for": ""},
    )
    if held:
        logger.warning("campaign %s paused: %s", campaign_id, reason)
        queue.enqueue_campaign_hold_notice(campaign_id)
    return held
