"""`GET /api/campaigns/{id}/timeline/?bucket=hour|day`: results over time, the funnel, delivery
by recipient domain and the most clicked links, from the campaign's stored report."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import CanManageCampaigns
from campaigns.api.stats import CampaignRatesSerializer, LinkClicksSerializer
from campaigns.models import Campaign
from campaigns.reporting.timeline import (
    BUCKETS,
    HOURLY_HOURS,
    OTHER_DOMAINS,
    TOP_DOMAINS,
    campaign_timeline,
    default_bucket,
)
from campaigns.services.reports import campaign_report_current
from core.errors import StateConflictError
from core.openapi import conflict


class TimelineBucketSerializer(serializers.Serializer[dict[str, Any]]):
    start = serializers.DateTimeField(help_text="Start of the bucket (the buckets are cut in `time_zone`).")
    name = serializers.CharField(help_text="The bucket as staff read it, in `time_zone` (a date for days).")
    opened = serializers.IntegerField(help_text="Recipients whose first human open falls in the bucket.")
    machine_opened = serializers.IntegerField(
        help_text="Recipients opened only by a machine (mail privacy proxies), by their first machine open."
    )
    clicked = serializers.IntegerField(help_text="Recipients whose first click falls in the bucket.")


class FunnelSerializer(serializers.Serializer[dict[str, Any]]):
    recipients = serializers.IntegerField(help_text="Ledger rows.")
    sent = serializers.IntegerField(help_text="Accepted by Brevo.")
    failed = serializers.IntegerField(help_text="Refused by Brevo.")
    delivered = serializers.IntegerField()
    opened = serializers.IntegerField(help_text="Opened by a person (or clicked).")
    machine_opened = serializers.IntegerField(help_text="Opened only by a machine: not counted in `opened`.")
    clicked = serializers.IntegerField()
    bounced = serializers.IntegerField(help_text="Hard bounces, invalid addresses and Brevo blocks.")
    soft_bounced = serializers.IntegerField()
    complained = serializers.IntegerField()
    unsubscribed = serializers.IntegerField()


class DomainSerializer(FunnelSerializer):
    domain = serializers.CharField(help_text=f"A recipient domain, or “{OTHER_DOMAINS}” for the rest summed.")
    delivery_rate = serializers.FloatField(allow_null=True, help_text="Delivered over sent; null when none sent.")
    bounce_rate = serializers.FloatField(allow_null=True, help_text="Bounced over sent; null when none sent.")


class CampaignTimelineSerializer(serializers.Serializer[dict[str, Any]]):
    campaign_id = serializers.IntegerField()
    computed_at = serializers.DateTimeField(
        help_text="When the numbers were summed from the ledger (recomputed within a minute while young)."
    )
    time_zone = serializers.CharField(help_text="The site's time zone, in which buckets are cut.")
    bucket = serializers.ChoiceField(choices=BUCKETS)
    buckets = TimelineBucketSerializer(
        many=True, help_text=f"Hourly: the first {HOURLY_HOURS} hours from the start. Daily: from the start day on."
    )
    funnel = FunnelSerializer()
    rates = CampaignRatesSerializer()
    domains = DomainSerializer(many=True, help_text=f"The top {TOP_DOMAINS} domains by recipients, then the rest.")
    links = LinkClicksSerializer(many=True, help_text="The most clicked links, most first.")


class TimelineQuerySerializer(serializers.Serializer[dict[str, Any]]):
    bucket = serializers.ChoiceField(
        choices=BUCKETS,
        required=False,
        help_text="`hour` or `day`; default `hour` during the first 72 hours of sending, `day` after.",
    )


class CampaignTimelineView(APIView):
    permission_classes = (CanManageCampaigns,)

    @extend_schema(
        operation_id="campaigns_timeline",
        summary="Results over time, funnel, delivery by domain, top links",
        description=(
            "Human opens, machine opens and clicks per hour (the first 72 hours) or per day, in "
            "the site's time zone; the delivery funnel; delivery and bounces for the top 10 "
            "recipient domains and the rest; the most clicked links. Read from the campaign's "
            "stored report, recomputed from the ledger when stale (see `computed_at`)."
        ),
        parameters=[TimelineQuerySerializer],
        responses={
            200: CampaignTimelineSerializer,
            409: conflict("`state_conflict`: the campaign has not started sending, so it has no results (`status`)."),
        },
        tags=["campaigns"],
    )
    def get(self, request: Request, pk: int) -> Response:
        campaign = get_object_or_404(Campaign, pk=pk)
        query = TimelineQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        report = campaign_report_current(campaign=campaign)
        if report is None:
            status = campaign.get_status_display().lower()
            raise StateConflictError(
                f"The campaign has no results before it starts sending (it is {status}).",
                extra={"status": campaign.status},
            )
        bucket = query.validated_data.get("bucket") or default_bucket(campaign)
        return Response(CampaignTimelineSerializer(campaign_timeline(report=report, bucket=bucket)).data)
