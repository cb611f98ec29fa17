"""The batch chains: each job claims and sends one batch, then enqueues the next; retries of a
batch keep its idempotency key while Brevo honours it."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from brevo import brevo_configured
from campaigns import queue
from campaigns.models import Campaign, CampaignRecipient, RecipientStatus
from campaigns.services.sending.claims import Batch, Waiting, batch_claim, batch_variant
from campaigns.services.sending.delivery import Outcome, deliver
from campaigns.services.sending.ending import campaign_finish_if_done
from campaigns.services.sending.ledger import batch_rows, ledger_mark_unknown

logger = logging.getLogger(__name__)


def campaign_send_batch(*, campaign_id: int, after_id: int = 0) -> int | None:
    """Claim and send one batch, then hand over to the next job of this chain.

    `after_id` is where the chain's previous batch ended: claims walk the ledger forward instead
    of rescanning index entries of rows already sent. A chain that finds nothing there looks
    once from the start (rows can be left behind by a claimer that rolled back), then ends.
    Returns the last id claimed, or None when the chain ended.
    """
    batch = batch_claim(campaign_id=campaign_id, after_id=after_id)
    if batch is None:
        return None
    if isinstance(batch, Waiting):
        # Held back by the pace: the chain comes back when the window opens (the campaign's
        # last recipients may have gone out just before the cap: then it is done instead).
        if not campaign_finish_if_done(campaign_id=campaign_id):
            logger.info("campaign %s waits for %s until %s", campaign_id, batch.waiting_for, batch.until)
            queue.enqueue_campaign_send_batch(campaign_id, after_id=after_id, at=batch.until)
        return None
    if not batch.rows:
        if after_id:
            return campaign_send_batch(campaign_id=campaign_id, after_id=0)
        campaign_finish_if_done(campaign_id=campaign_id)
        return None
    last_id = batch.rows[-1].id
    # An A/B test's claim is one request per variant, one after the other.
    parts = batch.parts or [batch]
    for index, part in enumerate(parts):
        outcome = deliver(part)
        # The claim (one transaction for all parts) is counted with the first part.
        outcome.add_time("claim", batch.claim_seconds if index == 0 else 0.0)
        _log_batch(part, outcome, retry=False)
        if outcome.deferred_for is not None:
            # Rate limited for longer than a job should sleep: this part and those not sent yet
            # (each under its key), then the chain, resume later.
            waiting = parts[index:]
            for position, later in enumerate(waiting):
                queue.enqueue_campaign_retry_batch(
                    campaign_id,
                    batch_key=later.key,
                    continue_chain=position == len(waiting) - 1,
                    delay=outcome.deferred_for,
                )
            return last_id
    queue.enqueue_campaign_send_batch(campaign_id, after_id=last_id)
    campaign_finish_if_done(campaign_id=campaign_id)
    return last_id


def campaign_retry_batch(*, campaign_id: int, batch_key: uuid.UUID, continue_chain: bool = False) -> int:
    """Send again a claimed batch whose outcome is not known, with its original key, while Brevo
    still honours the key; after that its recipients become UNKNOWN. Returns the rows handled."""
    first_claimed = CampaignRecipient.objects.filter(batch_key=batch_key, status=RecipientStatus.SENDING).aggregate(
        first=Min("claimed_at")
    )["first"]
    handled = 0
    if first_claimed is not None:
        if not brevo_configured() or first_claimed < timezone.now() - idempotency_window():
            handled = ledger_mark_unknown(CampaignRecipient.objects.filter(batch_key=batch_key))
        else:
            CampaignRecipient.objects.filter(batch_key=batch_key, status=RecipientStatus.SENDING).update(
                attempted_at=timezone.now()
            )
            campaign = Campaign.objects.get(pk=campaign_id)
            rows = batch_rows(batch_key)
            batch = Batch(
                campaign=campaign,
                key=batch_key,
                rows=rows,
                first_claimed_at=first_claimed,
                retried=True,
                variant=batch_variant(campaign, rows),
            )
            handled = len(batch.rows)
            outcome = deliver(batch)
            _log_batch(batch, outcome, retry=True)
            if outcome.deferred_for is not None:
                queue.enqueue_campaign_retry_batch(
                    campaign_id, batch_key=batch_key, continue_chain=continue_chain, delay=outcome.deferred_for
                )
                return handled
    if continue_chain:
        queue.enqueue_campaign_send_batch(campaign_id)
    campaign_finish_if_done(campaign_id=campaign_id)
    return handled


def _log_batch(batch: Batch, outcome: Outcome, *, retry: bool) -> None:
    """One line per batch sent or retried, with the campaign id and the outcome as keys."""
    logger.info(
        "campaign %s batch %s%s: %s",
        batch.campaign.pk,
        batch.key,
        " (retry)" if retry else "",
        outcome.describe(),
        extra={
            "campaign_id": batch.campaign.pk,
            "batch_key": str(batch.key),
            "retry": retry,
            "recipients": len(batch.rows),
            **outcome.log_fields(),
        },
    )


def idempotency_window() -> timedelta:
    return timedelta(seconds=settings.CAMPAIGN_IDEMPOTENCY_WINDOW_SECONDS)
