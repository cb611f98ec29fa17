"""Campaign reports: the stored sums behind a campaign's charts and the dashboard's rates.

A report is recomputed from the ledger (campaigns.reporting.timeline) when it is missing, when
the site's time zone changed, or when it is older than its campaign's freshness: a minute while
the campaign sends or is young (opens arrive in the first days), a quarter of an hour for a
month, then a day. The periodic job keeps the dashboard's reports fresh; viewing a campaign's
charts asks for a refresh of a stale one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from campaigns import queue
from campaigns.models import Campaign, CampaignReport, CampaignStatus
from campaigns.reporting.timeline import campaign_report_data

YOUNG_FOR = timedelta(days=3)
RECENT_FOR = timedelta(days=30)
FRESH_WHILE_YOUNG = timedelta(minutes=1)
FRESH_WHILE_RECENT = timedelta(minutes=15)
FRESH_AFTER = timedelta(days=1)
# Reports one periodic run recomputes at most (a million-recipient ledger takes about a second).
REFRESH_PER_RUN = 10
_LIVE = (CampaignStatus.SENDING, CampaignStatus.PAUSED)


def report_max_age(*, campaign: Campaign, now: datetime) -> timedelta:
    """How old the campaign's report may be before it is recomputed."""
    started = campaign.started_at or now
    if campaign.status in _LIVE or now - started < YOUNG_FOR:
        return FRESH_WHILE_YOUNG
    if now - started < RECENT_FOR:
        return FRESH_WHILE_RECENT
    return FRESH_AFTER


def campaign_report_is_stale(*, report: CampaignReport, campaign: Campaign, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    if report.time_zone != timezone.get_default_timezone_name():
        return True
    return now - report.computed_at > report_max_age(campaign=campaign, now=now)


def campaign_report_refresh(*, campaign_id: int, now: datetime | None = None) -> CampaignReport | None:
    """Recompute and store the campaign's report; None when the campaign is gone or has no ledger yet."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.audience_frozen_at is None:
        return None
    data = campaign_report_data(campaign=campaign, now=now)
    report, _ = CampaignReport.objects.update_or_create(campaign=campaign, defaults=data)
    return report


def campaign_report_current(
    *, campaign: Campaign, compute_missing: bool = True, now: datetime | None = None
) -> CampaignReport | None:
    """The campaign's report for a page or the API: the stored one, with a refresh queued when
    it is stale. When there is none (or the site's time zone changed) it is computed now, or,
    with `compute_missing=False` (a page that must not wait seconds on a million-row ledger),
    queued and None returned."""
    report = CampaignReport.objects.filter(campaign=campaign).first()
    if report is None or report.time_zone != timezone.get_default_timezone_name():
        if compute_missing:
            return campaign_report_refresh(campaign_id=campaign.pk, now=now)
        queue.enqueue_campaign_report_refresh(campaign.pk)
        return None
    if campaign_report_is_stale(report=report, campaign=campaign, now=now):
        queue.enqueue_campaign_report_refresh(campaign.pk)
    return report


def _due(now: datetime) -> QuerySet[Campaign]:
    computed = F("report__computed_at")
    young = Q(status__in=_LIVE) | Q(started_at__gte=now - YOUNG_FOR)
    recent = Q(started_at__gte=now - RECENT_FOR)
    return (
        Campaign.objects.filter(audience_frozen_at__isnull=False)
        .filter(
            Q(report__isnull=True)
            | (young & Q(report__computed_at__lt=now - FRESH_WHILE_YOUNG))
            | (recent & Q(report__computed_at__lt=now - FRESH_WHILE_RECENT))
            | Q(report__computed_at__lt=now - FRESH_AFTER)
        )
        .order_by(computed.asc(nulls_first=True), "-started_at")
    )


def campaign_reports_refresh_due(*, now: datetime | None = None, limit: int = REFRESH_PER_RUN) -> list[int]:
    """Recompute the reports most overdue (missing first); returns the campaign ids done."""
    now = now or timezone.now()
    done = []
    for campaign_id in _due(now).values_list("pk", flat=True)[:limit]:
        if campaign_report_refresh(campaign_id=campaign_id, now=now) is not None:
            done.append(campaign_id)
    return done
