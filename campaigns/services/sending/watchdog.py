"""Recovery from lost jobs (worker killed, Redis flushed), run every minute by the cron."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Min, Q

from brevo import brevo_configured
from campaigns import queue
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from campaigns.services.sending.batches import idempotency_window
from campaigns.services.sending.ending import campaign_finish_if_done
from campaigns.services.sending.ledger import ledger_mark_unknown
from core import clock


@dataclass(frozen=True)
class WatchdogReport:
    retried_batches: int
    unknown_recipients: int
    restarted_campaigns: list[int]
    finished_campaigns: list[int]


# Batches taken over per run: a minute's work for a few workers; the rest wait for the next run.
WATCHDOG_MAX_BATCHES = 200


def campaigns_watchdog(*, now: datetime | None = None) -> WatchdogReport:
    """Recover from lost jobs (worker killed, Redis flushed). Every minute, from the cron:

    - batches claimed but not attempted for CAMPAIGN_STALE_SECONDS are retried with their key
      while Brevo honours it, else their recipients become UNKNOWN (never resent blindly);
    - SENDING campaigns with no claim for that long (and not waiting for the pace) get their start
      job again (which freezes the audience if that never happened, and restarts the chains);
    - SENDING campaigns with nothing left to send are marked SENT.
    """
    now = now or clock.now()
    stale_before = now - timedelta(seconds=settings.CAMPAIGN_STALE_SECONDS)
    window_start = now - idempotency_window()
    stuck = (
        CampaignRecipient.objects.filter(status=RecipientStatus.SENDING, attempted_at__lt=stale_before)
        .values("campaign_id", "batch_key")
        .annotate(first_claimed=Min("claimed_at"))
        .order_by("first_claimed")[:WATCHDOG_MAX_BATCHES]
    )
    retried = unknown = 0
    for entry in list(stuck):
        key, campaign_id = entry["batch_key"], entry["campaign_id"]
        # A row is SENDING only once a claim gave it its batch's key.
        assert key is not None
        rows = CampaignRecipient.objects.filter(
            batch_key=key, status=RecipientStatus.SENDING, attempted_at__lt=stale_before
        )
        if brevo_configured() and entry["first_claimed"] is not None and entry["first_claimed"] >= window_start:
            # Taking the batch over is itself conditional: two watchdogs cannot both retry it.
            if rows.update(attempted_at=now):
                queue.enqueue_campaign_retry_batch(campaign_id, batch_key=key, continue_chain=False)
                retried += 1
        else:
            unknown += ledger_mark_unknown(rows)
    # A campaign the pace holds back is quiet on purpose until its wait ends; after that (and
    # CAMPAIGN_STALE_SECONDS more) its deferred jobs were lost with Redis.
    not_waiting = Q(waiting_until__isnull=True) | Q(waiting_until__lt=stale_before)
    quiet = (
        Campaign.objects.filter(status=CampaignStatus.SENDING)
        .filter(Q(last_claim_at__isnull=True) | Q(last_claim_at__lt=stale_before))
        .filter(not_waiting)
    )
    restarted = []
    for campaign_id in list(quiet.values_list("pk", flat=True)):
        if campaign_finish_if_done(campaign_id=campaign_id):
            continue
        woke = (
            Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING)
            .filter(Q(last_claim_at__isnull=True) | Q(last_claim_at__lt=stale_before))
            .filter(not_waiting)
        )
        if woke.update(last_claim_at=now):
            queue.enqueue_campaign_start(campaign_id)
            restarted.append(campaign_id)
    finished = [
        campaign_id
        for campaign_id in list(Campaign.objects.filter(status=CampaignStatus.SENDING).values_list("pk", flat=True))
        if campaign_finish_if_done(campaign_id=campaign_id)
    ]
    return WatchdogReport(
        retried_batches=retried, unknown_recipients=unknown, restarted_campaigns=restarted, finished_campaigns=finished
    )
