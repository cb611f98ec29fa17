"""The staff home page: campaigns over 12 months, the latest and upcoming ones, the audience and
how it moved, and the health of the machinery, each number with the page where it is acted on.

Every number is a small read: stored campaign reports (never the million-row ledgers), the
daily audience snapshots, the campaign table, one partial-index count of waiting webhook
events, the Brevo incidents table, and a few Redis calls for the queue (which may be down: the
dashboard then says so instead of failing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import django_rq
from django.urls import reverse
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Worker

from accounts.roles import MANAGE_CAMPAIGNS, OPERATE_QUEUES
from campaigns.models import BrevoIncident, Campaign, CampaignStatus, TrackingEvent, TrackingEventStatus
from campaigns.selectors import campaign_rates
from core.charts import Chart, Series
from core.months import months_ending
from segments.models import AudienceSnapshot

MONTHS = 12
RECENT_CAMPAIGNS = 10
UPCOMING_CAMPAIGNS = 10
# Funnel counts the monthly figures sum from the reports.
_SUMMED = (
    "recipients",
    "sent",
    "delivered",
    "opened",
    "machine_opened",
    "clicked",
    "bounced",
    "complained",
    "unsubscribed",
)


def _percent(rate: float | None) -> float | None:
    return round(rate * 100, 1) if rate is not None else None


def _admin_url(name: str, *args: Any, query: str = "") -> str:
    return reverse(f"admin:{name}", args=args) + (f"?{query}" if query else "")


def _campaigns(today: date, first_month: date, months: list[date]) -> dict[str, Any]:
    zone = timezone.get_default_timezone()
    since = datetime(first_month.year, first_month.month, 1, tzinfo=zone)
    per_month: dict[date, dict[str, int]] = {month: dict.fromkeys(("campaigns", *_SUMMED), 0) for month in months}
    missing_reports = 0
    # One row per campaign started in the window, its report's counts joined (None without one).
    for started_at, *counts in Campaign.objects.filter(started_at__gte=since).values_list(
        "started_at", *(f"report__{key}" for key in _SUMMED)
    ):
        local = timezone.localtime(started_at, zone)
        entry = per_month[date(local.year, local.month, 1)]
        entry["campaigns"] += 1
        if counts[0] is None:
            missing_reports += 1
            continue
        for key, value in zip(_SUMMED, counts, strict=True):
            entry[key] += value
    rates = [campaign_rates(per_month[month]) for month in months]
    chart = Chart(
        id="dashboard-campaigns",
        title=f"Campaigns of the last {MONTHS} months",
        labels=[f"{month:%b %Y}" for month in months],
        series=[
            Series("recipients", "Recipients", [per_month[month]["recipients"] for month in months], kind="bar"),
            Series("open_rate", "Human open rate (%)", [_percent(r["open_rate"]) for r in rates], "line", "rate"),
            Series("click_rate", "Click rate (%)", [_percent(r["click_rate"]) for r in rates], "line", "rate"),
        ],
        kind="bar",
        note="Rates over delivered mail; machine (privacy proxy) opens are not counted as opens.",
    )
    latest = []
    for campaign in (
        Campaign.objects.filter(started_at__isnull=False)
        .select_related("report")
        .order_by("-started_at")[:RECENT_CAMPAIGNS]
    ):
        report = getattr(campaign, "report", None)
        rates_of = campaign_rates({key: getattr(report, key) for key in _SUMMED}) if report else {}
        latest.append(
            {
                "campaign": campaign,
                "url": _admin_url("campaigns_campaign_change", campaign.pk),
                "recipients": report.recipients if report else campaign.recipients_total,
                "open_rate": _percent(rates_of.get("open_rate")),
                "machine_open_rate": _percent(rates_of.get("machine_open_rate")),
                "click_rate": _percent(rates_of.get("click_rate")),
                "bounce_rate": _percent(rates_of.get("bounce_rate")),
            }
        )
    upcoming = [
        {"campaign": campaign, "url": _admin_url("campaigns_campaign_change", campaign.pk)}
        for campaign in Campaign.objects.filter(status=CampaignStatus.SCHEDULED).order_by("scheduled_at")[
            :UPCOMING_CAMPAIGNS
        ]
    ]
    sending = [
        {"campaign": campaign, "url": _admin_url("campaigns_campaign_change", campaign.pk)}
        for campaign in Campaign.objects.filter(status__in=[CampaignStatus.SENDING, CampaignStatus.PAUSED]).order_by(
            "started_at"
        )
    ]
    return {
        "chart": chart,
        "missing_reports": missing_reports,
        "latest": latest,
        "upcoming": upcoming,
        "sending": sending,
        "list_url": _admin_url("campaigns_campaign_changelist"),
        "scheduled_url": _admin_url("campaigns_campaign_changelist", query="status__exact=SCHEDULED"),
        "add_url": _admin_url("campaigns_campaign_add"),
    }


@dataclass(frozen=True)
class _Figure:
    key: str
    label: str
    url: str


def _audience(first_month: date, months: list[date]) -> dict[str, Any]:
    snapshots = list(AudienceSnapshot.objects.filter(day__gte=first_month).order_by("day"))
    latest = snapshots[-1] if snapshots else None
    # The last snapshot of each month stands for the month.
    month_end: dict[date, AudienceSnapshot] = {date(row.day.year, row.day.month, 1): row for row in snapshots}
    figures = [
        _Figure("users", "Users", _admin_url("accounts_user_changelist")),
        _Figure("reachable", "Reachable", _admin_url("segments_segment_changelist")),
        _Figure("opted_out", "Opted out", _admin_url("campaigns_subscriptionchange_changelist")),
        _Figure("suppressed", "Suppressed", _admin_url("accounts_suppression_changelist")),
    ]
    first = snapshots[0] if snapshots else None
    numbers = [
        {
            "label": figure.label,
            "url": figure.url,
            "value": getattr(latest, figure.key) if latest else None,
            "change": getattr(latest, figure.key) - getattr(first, figure.key) if latest and first else None,
        }
        for figure in figures
    ]
    chart = Chart(
        id="dashboard-audience",
        title=f"The audience over the last {MONTHS} months",
        labels=[f"{month:%b %Y}" for month in months],
        series=[
            Series(
                figure.key,
                figure.label,
                [getattr(month_end[month], figure.key) if month in month_end else None for month in months],
            )
            for figure in figures
        ],
        kind="line",
        note="From the daily snapshots: the last one of each month.",
        summary_kind="latest",
    )
    return {
        "numbers": numbers,
        "chart": chart,
        "as_of": latest.day if latest else None,
        "since": first.day if first else None,
    }


def _queue() -> dict[str, Any]:
    home = _admin_url("django_rq_home")
    links = {
        "home": home,
        "queued": _admin_url("django_rq_jobs", 0),
        "workers": _admin_url("django_rq_workers", 0),
        "failed": _admin_url("django_rq_failed_jobs", 0),
        "scheduled": _admin_url("django_rq_scheduled_jobs", 0),
    }
    try:
        queue = django_rq.get_queue("default")
        return {
            "reachable": True,
            "queued": queue.count,
            "scheduled": queue.scheduled_job_registry.count,
            "running": queue.started_job_registry.count,
            "failed": queue.failed_job_registry.count,
            "workers": Worker.count(queue=queue),
            "links": links,
        }
    except RedisError as error:
        return {"reachable": False, "error": str(error), "links": links}


def _machinery() -> dict[str, Any]:
    waiting = TrackingEvent.objects.filter(status=TrackingEventStatus.PENDING).count()
    incidents = {incident.kind: incident for incident in BrevoIncident.objects.all()}
    return {
        "queue": _queue(),
        "webhook_waiting": waiting,
        "webhook_url": _admin_url("campaigns_trackingevent_changelist", query="status__exact=PENDING"),
        "brevo_error": incidents.get(BrevoIncident.Kind.ERROR),
        "brevo_rate_limited": incidents.get(BrevoIncident.Kind.RATE_LIMITED),
    }


def staff_dashboard(*, user: Any, today: date | None = None) -> dict[str, Any]:
    """What the home page shows `user`: campaigns for those who manage them, the audience for
    those who may see users, the machinery for those who operate the queues."""
    # Months and days of the site's time zone, whoever looks (staff may have a zone of their own).
    today = today or timezone.localdate(timezone=timezone.get_default_timezone())
    months = months_ending(today, MONTHS)
    return {
        "campaigns": _campaigns(today, months[0], months) if user.has_perm(MANAGE_CAMPAIGNS) else None,
        "audience": _audience(months[0], months) if user.has_perm("accounts.view_user") else None,
        "machinery": _machinery() if user.has_perm(OPERATE_QUEUES) else None,
    }
