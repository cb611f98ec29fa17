"""Campaign results over time (`GET /api/campaigns/stats/`) and the shapes of per-campaign rates
and link clicks that the campaign detail adds to its ledger counts."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import CanManageCampaigns
from campaigns.models import CampaignStatus
from campaigns.selectors import OVERVIEW_MAX_MONTHS, OVERVIEW_MONTHS, campaigns_overview


def _rate_field(note: str = "") -> serializers.FloatField:
    help_text = " ".join(filter(None, ["A fraction (0.25 is 25 %); null with no denominator.", note]))
    return serializers.FloatField(allow_null=True, help_text=help_text)


class CampaignRatesSerializer(serializers.Serializer[dict[str, Any]]):
    """Rates as Brevo reports them: engagement over delivered mail, bounces over sent mail."""

    delivery_rate = _rate_field()
    open_rate = _rate_field("Human opens (or clicks) over delivered.")
    machine_open_rate = _rate_field(
        "Recipients opened only by a machine (a proxy such as Apple Mail Privacy Protection) over "
        "delivered: opens not counted in open_rate."
    )
    click_rate = _rate_field()
    click_to_open_rate = _rate_field()
    bounce_rate = _rate_field()
    complaint_rate = _rate_field()
    unsubscribe_rate = _rate_field()


class LinkClicksSerializer(serializers.Serializer[dict[str, Any]]):
    link = serializers.CharField()
    clicks = serializers.IntegerField(help_text="Every click, repeats included.")
    unique_clicks = serializers.IntegerField(help_text="Recipients who clicked it.")


class _PeriodCountsSerializer(CampaignRatesSerializer):
    campaigns = serializers.IntegerField(help_text="Campaigns that started sending.")
    recipients = serializers.IntegerField(help_text="Ledger rows of those campaigns.")
    sent = serializers.IntegerField(help_text="Recipients Brevo accepted.")
    delivered = serializers.IntegerField()
    opened = serializers.IntegerField(help_text="Recipients a person opened (or clicked) at least once.")
    machine_opened = serializers.IntegerField(
        help_text="Recipients opened only by a machine (a proxy that opens every message): not in `opened`."
    )
    clicked = serializers.IntegerField(help_text="Recipients who clicked at least once.")
    bounced = serializers.IntegerField(help_text="Hard bounces, invalid addresses and Brevo blocks.")
    hard_bounced = serializers.IntegerField()
    soft_bounced = serializers.IntegerField()
    blocked = serializers.IntegerField()
    complained = serializers.IntegerField()
    unsubscribed = serializers.IntegerField()


class MonthSerializer(_PeriodCountsSerializer):
    month = serializers.DateField(help_text="First day of the month (server time zone).")


class CampaignsOverviewSerializer(serializers.Serializer[dict[str, Any]]):
    months = serializers.IntegerField()
    since = serializers.DateField(help_text="First day of the oldest month covered.")
    totals = _PeriodCountsSerializer(help_text="Sums over the months covered, with their rates.")
    campaigns_by_status = serializers.DictField(
        child=serializers.IntegerField(), help_text=f"Every campaign ever, by status ({', '.join(CampaignStatus)})."
    )
    monthly = MonthSerializer(many=True, help_text="One entry per month, oldest first, zero-filled.")


class CampaignsOverviewQuerySerializer(serializers.Serializer[dict[str, Any]]):
    months = serializers.IntegerField(
        min_value=1,
        max_value=OVERVIEW_MAX_MONTHS,
        default=OVERVIEW_MONTHS,
        help_text=f"Months covered, 1 to {OVERVIEW_MAX_MONTHS} (default {OVERVIEW_MONTHS}).",
    )


class CampaignsStatsView(APIView):
    permission_classes = (CanManageCampaigns,)

    @extend_schema(
        operation_id="campaigns_stats",
        summary="Results over time: totals and a monthly series",
        description=(
            "Counts and rates of the campaigns that started sending in the last `months` months, "
            "the current month included: recipients, sent, delivered, unique human opens, machine-only "
            "opens (proxies such as Apple Mail Privacy Protection; not counted as opens), clicks, "
            "bounces, complaints, unsubscribes, from the ledger and Brevo's tracking events."
        ),
        parameters=[CampaignsOverviewQuerySerializer],
        responses={200: CampaignsOverviewSerializer},
        tags=["campaigns"],
    )
    def get(self, request: Request) -> Response:
        query = CampaignsOverviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        overview = campaigns_overview(months=query.validated_data["months"])
        return Response(CampaignsOverviewSerializer(overview).data)
