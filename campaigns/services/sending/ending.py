"""How a sending campaign stops: SENT once nothing is left to send, FAILED on a campaign-level
fault, PAUSED (held) when the Brevo account cannot send until someone fixes it."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import (
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns import queue
from campaigns.models import Campaign, CampaignRecipient, RecipientStatus
from campaigns.services.state_machine import campaign_transition, campaigns_allowing

logger = logging.getLogger(__name__)


def campaign_finish_if_done(*, campaign_id: int) -> bool:
    """SENDING -> SENT once no recipient is pending, in flight or held for an A/B winner; True for
    the call that did it. An A/B test whose test share is all sent, its remainder held and no
    winner decided, waits for the winner instead (WAITING_FOR_WINNER, decision scheduled)."""
    open_rows = CampaignRecipient.objects.filter(
        campaign_id=OuterRef("pk"), status__in=[RecipientStatus.PENDING, RecipientStatus.SENDING]
    )
    held_rows = CampaignRecipient.objects.filter(campaign_id=OuterRef("pk"), status=RecipientStatus.HELD)
    now = timezone.now()
    finished = campaign_transition(
        campaign_id=campaign_id,
        action="finish",
        changes={"sent_at": now, "updated_at": now},
        conditions=(Q(audience_frozen_at__isnull=False), ~Exists(open_rows), ~Exists(held_rows)),
    )
    if finished:
        logger.info("campaign %s: sent", campaign_id)
    else:
        _await_winner_if_tested(campaign_id=campaign_id, open_rows=open_rows, held_rows=held_rows, now=now)
    return bool(finished)


def _await_winner_if_tested(
    *,
    campaign_id: int,
    open_rows: QuerySet[CampaignRecipient],
    held_rows: QuerySet[CampaignRecipient],
    now: datetime,
) -> bool:
    """SENDING -> WAITING_FOR_WINNER once the test share is sent (its last batch accepted) and
    the remainder is held, the decision due `ab_wait_minutes` later, or at the time set when it
    first waited (a pause and resume do not restart the wait). True for the call that did it."""
    tested = (Q(audience_frozen_at__isnull=False, ab_winner=""), ~Q(Exists(open_rows)), Q(Exists(held_rows)))
    # The wait is read first, and only from a campaign that may wait now (every batch of every
    # campaign comes here while rows are left, so that case costs this one read): it is frozen
    # once the campaign leaves DRAFT, and multiplying an interval by a column has no portable
    # SQL (SQLite refuses it). The transition checks the same conditions again, atomically.
    wait_minutes = (
        campaigns_allowing("await_winner")
        .filter(*tested, pk=campaign_id)
        .values_list("ab_wait_minutes", flat=True)
        .first()
    )
    if wait_minutes is None:
        return False
    due = Value(now + timedelta(minutes=wait_minutes), output_field=DateTimeField())
    awaiting = campaign_transition(
        campaign_id=campaign_id,
        action="await_winner",
        changes={
            "ab_decide_at": Coalesce(F("ab_decide_at"), due),
            "waiting_until": None,
            "waiting_for": "",
        },
        conditions=tested,
    )
    if awaiting:
        decide_at = Campaign.objects.filter(pk=campaign_id).values_list("ab_decide_at", flat=True).get()
        assert decide_at is not None
        logger.info("campaign %s: A/B test sent, the winner is decided at %s", campaign_id, decide_at.isoformat())
        queue.enqueue_campaign_decide_winner(campaign_id, at=decide_at)
    return awaiting


@transaction.atomic
def campaign_fail(*, campaign_id: int, reason: str) -> bool:
    """SENDING / PAUSED -> FAILED for a campaign-level fault (say Brevo refuses the sender).

    Recipients not yet sent become FAILED with the reason, so an operator can fix the cause and
    send them with `resend_campaign --failed`. True if this call failed the campaign.
    """
    failed = campaign_transition(campaign_id=campaign_id, action="fail", changes={"status_reason": reason})
    if failed:
        unsent = [RecipientStatus.PENDING, RecipientStatus.HELD]
        CampaignRecipient.objects.filter(campaign_id=campaign_id, status__in=unsent).update(
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
