"""A campaign's results over time, by recipient domain and by link.

`campaign_report_data` reads the ledger (two passes: per domain, and first-open / first-click
times per 15-minute slot) and the tracking events (clicks per link); `campaigns.services.reports`
stores the result as a `CampaignReport`. `campaign_timeline` shapes a stored report for the API
and the admin's charts, with hourly or daily buckets in the site's time zone.

Opens and clicks over time count recipients by the time of their FIRST open or click, the same
recipients the funnel counts: a person who opened five times is one open, at the first time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, Value
from django.db.models.functions import ExtractMinute, Floor, Lower, StrIndex, Substr, TruncHour
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient, CampaignReport, RecipientStatus
from campaigns.reporting import buckets
from campaigns.selectors import TRACKING_COUNTS, campaign_link_clicks, campaign_rates

# The funnel and the other totals a report keeps (all counts of recipients).
FUNNEL = (
    "recipients",
    "sent",
    "failed",
    "delivered",
    "opened",
    "machine_opened",
    "clicked",
    "bounced",
    "soft_bounced",
    "complained",
    "unsubscribed",
)
# Series over time: recipients by the time of their first human open, first machine open (those
# a person never opened, as in the funnel) and first click.
SERIES: dict[str, tuple[str, Q]] = {
    "opened": ("first_opened_at", Q()),
    "machine_opened": ("first_machine_opened_at", Q(first_opened_at__isnull=True)),
    "clicked": ("first_clicked_at", Q()),
}
SERIES_LABELS = {"opened": "Human opens", "machine_opened": "Machine opens", "clicked": "Clicks"}
# Hourly buckets cover the first 72 hours after sending began; daily buckets cover the rest.
HOURLY_HOURS = 72
# Daily buckets reach at least this far past the start (zeros included), and at most a year.
DAILY_MIN_DAYS = 30
DAILY_MAX_DAYS = 366
# Domains shown one by one; the rest are summed as "other domains".
TOP_DOMAINS = 10
OTHER_DOMAINS = "other domains"
TOP_LINKS = 10

BUCKETS = ("hour", "day")


def _ledger_by_domain(campaign: Campaign) -> list[dict[str, Any]]:
    """One pass over the campaign's ledger: every funnel count per recipient domain."""
    email = Lower("email")
    counts = {
        "recipients": Count("id"),
        "sent": Count("id", filter=Q(status=RecipientStatus.SENT)),
        "failed": Count("id", filter=Q(status=RecipientStatus.FAILED)),
        **{key: Count("id", filter=TRACKING_COUNTS[key]) for key in FUNNEL[3:]},
    }
    rows = (
        CampaignRecipient.objects.filter(campaign=campaign)
        .annotate(domain=Substr(email, StrIndex(email, Value("@")) + 1))
        .values("domain")
        .annotate(**counts)
        .order_by()
    )
    return [dict(row) for row in rows]


def _first_times_by_slot(campaign: Campaign) -> dict[str, dict[datetime, int]]:
    """Recipients per 15-minute UTC slot of their first open / machine open / click, one query."""
    parts = []
    for name, (column, condition) in SERIES.items():
        parts.append(
            CampaignRecipient.objects.filter(campaign=campaign, **{f"{column}__isnull": False})
            .filter(condition)
            .annotate(
                series=Value(name),
                hour=TruncHour(column, tzinfo=UTC),
                quarter=Floor(ExtractMinute(column, tzinfo=UTC) / 15),
            )
            .values("series", "hour", "quarter")
            .annotate(n=Count("id"))
            .order_by()
        )
    slots: dict[str, dict[datetime, int]] = {name: {} for name in SERIES}
    for row in parts[0].union(*parts[1:], all=True):
        moment = row["hour"].astimezone(UTC) + timedelta(minutes=15 * int(row["quarter"]))
        slots[row["series"]][moment] = slots[row["series"]].get(moment, 0) + row["n"]
    return slots


def domain_breakdown(rows: Sequence[Mapping[str, Any]], *, top: int = TOP_DOMAINS) -> list[dict[str, Any]]:
    """The `top` domains by recipients (ties by name), then one "other domains" row summing the rest."""
    ordered = sorted(rows, key=lambda row: (-row["recipients"], row["domain"]))
    keys = [key for key in FUNNEL if key in (ordered[0] if ordered else {})]
    shown = [{"domain": row["domain"], **{key: row[key] for key in keys}} for row in ordered[:top]]
    rest = ordered[top:]
    if rest:
        shown.append({"domain": OTHER_DOMAINS, **{key: sum(row[key] for row in rest) for key in keys}})
    return shown


def _series_json(cut: buckets.Buckets) -> dict[str, Any]:
    return {"starts": [moment.isoformat() for moment in cut.starts], **cut.counts}


def campaign_report_data(*, campaign: Campaign, now: datetime | None = None) -> dict[str, Any]:
    """Everything a `CampaignReport` stores, computed from the ledger and tracking events now."""
    now = now or timezone.now()
    # The site's zone, not the viewer's: one report serves every staff member.
    zone = ZoneInfo(timezone.get_default_timezone_name())
    by_domain = _ledger_by_domain(campaign)
    totals = {key: sum(row[key] for row in by_domain) for key in FUNNEL}
    slots = _first_times_by_slot(campaign)
    start = campaign.started_at or buckets.latest(slots) or now
    first_day = start.astimezone(zone).date()
    latest = buckets.latest(slots)
    last_day = max(
        latest.astimezone(zone).date() if latest else first_day,
        min(timezone.localdate(now, zone), first_day + timedelta(days=DAILY_MIN_DAYS - 1)),
    )
    last_day = min(last_day, first_day + timedelta(days=DAILY_MAX_DAYS - 1))
    return {
        "computed_at": now,
        "time_zone": zone.key,
        **totals,
        "hourly": _series_json(buckets.hourly(slots, start=start, hours=HOURLY_HOURS, zone=zone)),
        "daily": _series_json(buckets.daily(slots, first=first_day, last=last_day, zone=zone)),
        "domains": domain_breakdown(by_domain),
        "links": campaign_link_clicks(campaign=campaign, limit=TOP_LINKS),
    }


# --- Reading a stored report ---------------------------------------------------------------------


def default_bucket(campaign: Campaign, *, now: datetime | None = None) -> str:
    """Hourly while the first 72 hours of sending last, daily after."""
    now = now or timezone.now()
    if campaign.started_at is None or now - campaign.started_at < timedelta(hours=HOURLY_HOURS):
        return "hour"
    return "day"


def _labels(starts: Sequence[datetime], *, bucket: str, zone: ZoneInfo) -> list[str]:
    if bucket == "day":
        return [moment.astimezone(zone).date().isoformat() for moment in starts]
    walls = [f"{moment.astimezone(zone):%a %d %b %H:%M}" for moment in starts]
    # A fall-back night repeats an hour: the zone's abbreviation tells the two apart.
    repeated = {wall for wall in walls if walls.count(wall) > 1}
    return [
        f"{wall} {moment.astimezone(zone):%Z}" if wall in repeated else wall
        for wall, moment in zip(walls, starts, strict=True)
    ]


def campaign_timeline(*, report: CampaignReport, bucket: str) -> dict[str, Any]:
    """A stored report as the API and the charts read it."""
    zone = ZoneInfo(report.time_zone)
    cut = report.hourly if bucket == "hour" else report.daily
    starts = [datetime.fromisoformat(value) for value in cut.get("starts", [])]
    labels = _labels(starts, bucket=bucket, zone=zone)
    totals = {key: getattr(report, key) for key in FUNNEL}
    return {
        "campaign_id": report.campaign_id,
        "computed_at": report.computed_at,
        "time_zone": report.time_zone,
        "bucket": bucket,
        "buckets": [
            {"start": start, "name": label, **{name: cut[name][index] for name in SERIES}}
            for index, (start, label) in enumerate(zip(starts, labels, strict=True))
        ],
        "funnel": totals,
        "rates": campaign_rates(totals),
        "domains": [
            {
                **row,
                "delivery_rate": _share(row["delivered"], row["sent"]),
                "bounce_rate": _share(row["bounced"], row["sent"]),
            }
            for row in report.domains
        ],
        "links": report.links,
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
