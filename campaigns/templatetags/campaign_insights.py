"""Template tags that let the campaign page's partials and the dashboard fetch their own
numbers, so the pages that include them pass nothing but the campaign (or the request)."""

from __future__ import annotations

from typing import Any

from django import template

from campaigns.models import Campaign
from campaigns.reporting import dashboard
from campaigns.reporting.charts import report_charts
from campaigns.services.reports import campaign_report_current

register = template.Library()


@register.simple_tag
def campaign_charts(campaign: Campaign) -> dict[str, Any] | None:
    """`{% campaign_charts campaign as charts %}`: None before the campaign has a ledger;
    `{"pending": True}` while its first report is being summed in the background."""
    if campaign.audience_frozen_at is None:
        return None
    report = campaign_report_current(campaign=campaign, compute_missing=False)
    return report_charts(report) if report is not None else {"pending": True}


@register.simple_tag
def staff_dashboard(user: Any) -> dict[str, Any]:
    """`{% staff_dashboard request.user as dashboard %}`: the sections `user` may see."""
    return dashboard.staff_dashboard(user=user)
