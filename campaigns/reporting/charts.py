"""The campaign page's charts, built from a stored report (see campaigns.reporting.timeline)."""

from __future__ import annotations

from typing import Any

from campaigns.models import CampaignReport
from campaigns.reporting.timeline import HOURLY_HOURS, SERIES, SERIES_LABELS, TOP_DOMAINS, campaign_timeline
from core.charts import Chart, Series

FUNNEL_STEPS = (
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("opened", "Opened (people)"),
    ("clicked", "Clicked"),
    ("machine_opened", "Opened by machines only"),
    ("bounced", "Bounced"),
    ("complained", "Complained"),
    ("unsubscribed", "Unsubscribed"),
)


def _over_time(report: CampaignReport, *, bucket: str) -> Chart:
    timeline = campaign_timeline(report=report, bucket=bucket)
    rows = timeline["buckets"]
    hourly = bucket == "hour"
    return Chart(
        id=f"campaign-{report.campaign_id}-{'hourly' if hourly else 'daily'}",
        title=f"First {HOURLY_HOURS} hours, per hour" if hourly else "Per day since sending began",
        labels=[entry["name"] for entry in rows],
        series=[Series(name, SERIES_LABELS[name], [entry[name] for entry in rows]) for name in SERIES],
        kind="line" if hourly else "bar",
        note=f"Recipients by the time of their first open or click ({report.time_zone}).",
    )


def report_charts(report: CampaignReport) -> dict[str, Any]:
    """The charts of a sent campaign's page: over time (hourly, daily), funnel, domains, links."""
    totals = {key: getattr(report, key) for key, _ in FUNNEL_STEPS}
    domains = report.domains
    return {
        "report": report,
        "hourly": _over_time(report, bucket="hour"),
        "daily": _over_time(report, bucket="day"),
        "funnel": Chart(
            id=f"campaign-{report.campaign_id}-funnel",
            title="Delivery funnel",
            labels=[label for _, label in FUNNEL_STEPS],
            series=[Series("recipients", "Recipients", [totals[key] for key, _ in FUNNEL_STEPS])],
            kind="bar",
            horizontal=True,
            summary_kind="values",
        ),
        "domains": Chart(
            id=f"campaign-{report.campaign_id}-domains",
            title=f"Delivery by recipient domain (top {TOP_DOMAINS} and the rest)",
            labels=[row["domain"] for row in domains],
            series=[
                Series("delivered", "Delivered", [row["delivered"] for row in domains]),
                Series("bounced", "Bounced", [row["bounced"] for row in domains]),
                Series(
                    "unreported",
                    "Sent, not reported yet",
                    [max(row["sent"] - row["delivered"] - row["bounced"], 0) for row in domains],
                ),
                Series("failed", "Refused by Brevo", [row["failed"] for row in domains]),
            ],
            kind="stacked",
            horizontal=True,
            summary_kind="values",
        ),
        "links": Chart(
            id=f"campaign-{report.campaign_id}-links",
            title="Most clicked links",
            labels=[row["link"] for row in report.links],
            series=[
                Series("clicks", "Clicks", [row["clicks"] for row in report.links]),
                Series("unique_clicks", "Recipients who clicked", [row["unique_clicks"] for row in report.links]),
            ],
            kind="bar",
            horizontal=True,
            summary_kind="values",
        ),
    }
