"""Live progress of a sending campaign, cheap enough to be polled every two seconds by several
pages during a million-recipient send.

Two indexed reads: the campaign row (its `recipient_count` is bumped by every recorded batch)
and one GROUP BY over the ledger's (campaign, status, id) index limited to the statuses that
stay rare while sending (failed, unknown, cancelled). Pending rows are never counted: at the
start of a large send they are the whole ledger. The rate comes from this process's recent
observations of the accepted count, kept in memory: no round trip to a cache on every poll
(two Redis calls cost more than both queries), and each web process measures the same
campaign row, so every process gets the same rate; a fresh process falls back to the average
since sending began until it has watched for a second.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from core import clock

# Statuses in which the numbers can still move; the widget polls only while a campaign is in one.
LIVE_STATUSES = (
    CampaignStatus.SCHEDULED,
    CampaignStatus.SENDING,
    CampaignStatus.WAITING_FOR_WINNER,
    CampaignStatus.PAUSED,
)
# The current rate is measured over about this many seconds of observations.
RATE_WINDOW_SECONDS = 20.0
# Observations kept per campaign: enough for the window at one poll a second from a few pages.
_MAX_SAMPLES = 40
# (time, accepted) observations per campaign id, in this process.
_samples: dict[int, deque[tuple[float, int]]] = {}
_samples_lock = threading.Lock()


@dataclass(frozen=True)
class Progress:
    campaign_id: int
    status: str
    live: bool
    audience_frozen: bool
    total: int
    accepted: int
    failed: int
    unknown: int
    cancelled: int
    remaining: int
    percent: float
    rate_per_second: float | None
    eta_seconds: int | None
    started_at: datetime | None
    sent_at: datetime | None
    measured_at: datetime
    # Set while the sending pace holds a SENDING campaign back (a cap reached, quiet hours).
    waiting_until: datetime | None
    waiting_for: str
    # An A/B test waiting for its winner (WAITING_FOR_WINNER): when the decision runs; the
    # winner's label once decided.
    ab_decide_at: datetime | None
    ab_winner: str
    # What the campaign is doing when the numbers alone do not say: "Waiting for the hourly cap
    # until 14:00.", or why it is paused or failed.
    note: str


def _observe(campaign: Campaign, stamp: float) -> list[tuple[float, int]]:
    """Record the accepted count now; return this campaign's observations of the last window
    (oldest first). Observations of other campaigns that went quiet are dropped on the way."""
    with _samples_lock:
        for campaign_id in [key for key, seen in _samples.items() if stamp - seen[-1][0] > RATE_WINDOW_SECONDS * 3]:
            del _samples[campaign_id]
        seen = _samples.setdefault(campaign.pk, deque(maxlen=_MAX_SAMPLES))
        # A resend can lower the count: older observations no longer describe this run.
        if seen and seen[-1][1] > campaign.recipient_count:
            seen.clear()
        seen.append((stamp, campaign.recipient_count))
        return [(at, count) for at, count in seen if stamp - at <= RATE_WINDOW_SECONDS]


def _rate(campaign: Campaign, now: datetime) -> float | None:
    """Recipients accepted per second over the last RATE_WINDOW_SECONDS of observations, or the
    average since sending began when there are none yet."""
    stamp = now.timestamp()
    window = _observe(campaign, stamp)
    if campaign.status != CampaignStatus.SENDING:
        return None
    oldest_at, oldest_count = window[0]
    if stamp - oldest_at >= 1.0:
        return max(campaign.recipient_count - oldest_count, 0) / (stamp - oldest_at)
    if campaign.started_at is not None and campaign.recipient_count:
        elapsed = (now - campaign.started_at).total_seconds()
        return campaign.recipient_count / elapsed if elapsed >= 1.0 else None
    return None


def campaign_progress(*, campaign: Campaign, now: datetime | None = None) -> Progress:
    """Accepted / total, failures, the current rate and the time left, from one ledger query."""
    now = now or timezone.now()
    rare = dict(
        CampaignRecipient.objects.filter(
            campaign=campaign,
            status__in=[RecipientStatus.FAILED, RecipientStatus.UNKNOWN, RecipientStatus.CANCELLED],
        )
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("status", "n")
    )
    failed = rare.get(RecipientStatus.FAILED, 0)
    unknown = rare.get(RecipientStatus.UNKNOWN, 0)
    cancelled = rare.get(RecipientStatus.CANCELLED, 0)
    total = campaign.recipients_total
    accepted = campaign.recipient_count
    remaining = max(total - accepted - failed - unknown - cancelled, 0)
    rate = _rate(campaign, now)
    eta = round(remaining / rate) if rate and remaining else (0 if not remaining and total else None)
    live = campaign.status in LIVE_STATUSES
    waiting_until = campaign.waiting_until if campaign.status == CampaignStatus.SENDING else None
    return Progress(
        campaign_id=campaign.pk,
        status=campaign.status,
        live=live,
        audience_frozen=campaign.audience_frozen_at is not None,
        total=total,
        accepted=accepted,
        failed=failed,
        unknown=unknown,
        cancelled=cancelled,
        remaining=remaining,
        percent=round(100.0 * (total - remaining) / total, 1) if total else 0.0,
        rate_per_second=round(rate, 1) if rate is not None else None,
        eta_seconds=eta if live else None,
        started_at=campaign.started_at,
        sent_at=campaign.sent_at,
        measured_at=now,
        waiting_until=waiting_until,
        waiting_for=campaign.waiting_for if waiting_until else "",
        ab_decide_at=campaign.ab_decide_at,
        ab_winner=campaign.ab_winner,
        note=waiting_note(waiting_until=waiting_until, waiting_for=campaign.waiting_for)
        or winner_note(campaign=campaign)
        or campaign.status_reason,
    )


def winner_note(*, campaign: Campaign, now: datetime | None = None) -> str:
    """ "Test sent; the A/B winner is decided at 14:00." while it waits ("" otherwise)."""
    if campaign.status != CampaignStatus.WAITING_FOR_WINNER or campaign.ab_decide_at is None:
        return ""
    return f"Test sent; the A/B winner is decided at {_local_time(campaign.ab_decide_at, now)}."


def waiting_note(*, waiting_until: datetime | None, waiting_for: str, now: datetime | None = None) -> str:
    """ "Waiting for the hourly cap until 14:00" in the current time zone ("" when not waiting)."""
    if waiting_until is None or not waiting_for:
        return ""
    return f"Waiting for {waiting_for} until {_local_time(waiting_until, now)}."


def _local_time(moment: datetime, now: datetime | None) -> str:
    """14:00 today, Wed 02 Dec 14:00 on another day, in the current time zone."""
    local = timezone.localtime(moment)
    today = timezone.localtime(now or clock.now()).date()
    return f"{local:%H:%M}" if local.date() == today else f"{local:%a %d %b %H:%M}"
