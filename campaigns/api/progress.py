"""`GET /api/campaigns/{id}/progress/`: the numbers the admin's live progress bar polls."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import CanManageCampaigns
from campaigns.models import Campaign, CampaignStatus
from campaigns.reporting.progress import RATE_WINDOW_SECONDS, campaign_progress


class CampaignProgressSerializer(serializers.Serializer[dict[str, Any]]):
    campaign_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=CampaignStatus.choices)
    live = serializers.BooleanField(
        help_text="True while the numbers can still move (scheduled, sending, paused): poll again; false once done."
    )
    audience_frozen = serializers.BooleanField(
        help_text="False until the start job has written the ledger (then `total` is still 0)."
    )
    total = serializers.IntegerField(help_text="Ledger rows: recipients frozen when sending began.")
    accepted = serializers.IntegerField(help_text="Recipients Brevo accepted so far.")
    failed = serializers.IntegerField(help_text="Recipients Brevo refused (or whose address was invalid).")
    unknown = serializers.IntegerField(help_text="Recipients whose outcome could not be learned (see resend_campaign).")
    cancelled = serializers.IntegerField(help_text="Recipients left unsent by a cancel.")
    remaining = serializers.IntegerField(help_text="Recipients not handled yet (pending or in flight).")
    percent = serializers.FloatField(help_text="Share of the ledger handled (accepted, failed, unknown, cancelled).")
    rate_per_second = serializers.FloatField(
        allow_null=True,
        help_text=(
            f"Recipients accepted per second over about the last {RATE_WINDOW_SECONDS:.0f} seconds; "
            "null unless sending."
        ),
    )
    eta_seconds = serializers.IntegerField(
        allow_null=True, help_text="Seconds left at the current rate; null when unknown or done."
    )
    started_at = serializers.DateTimeField(allow_null=True)
    sent_at = serializers.DateTimeField(allow_null=True)
    measured_at = serializers.DateTimeField()
    waiting_until = serializers.DateTimeField(
        allow_null=True,
        help_text="While the sending pace holds the campaign back (a cap, quiet hours): when it goes on by itself.",
    )
    waiting_for = serializers.CharField(
        allow_blank=True, help_text='What it waits for: "the hourly cap", "the daily cap", "quiet hours"; "" if not.'
    )
    ab_decide_at = serializers.DateTimeField(
        allow_null=True, help_text="A/B tests: when the winner is (or was) decided, once the test share is sent."
    )
    ab_winner = serializers.CharField(allow_blank=True, help_text='A/B tests: the winning variant; "" until decided.')
    note = serializers.CharField(
        allow_blank=True,
        help_text='"Waiting for the hourly cap until 14:00.", "Test sent; the A/B winner is decided at 14:00.", '
        'or why it is paused or failed; "" otherwise.',
    )


class CampaignProgressView(APIView):
    permission_classes = (CanManageCampaigns,)

    @extend_schema(
        operation_id="campaigns_progress",
        summary="Live sending progress (cheap; poll every few seconds while `live`)",
        description=(
            "Accepted / total, failures, the current rate and an estimated time left, from the "
            "campaign row and one indexed count of the ledger's rare statuses."
        ),
        responses={200: CampaignProgressSerializer},
        tags=["campaigns"],
    )
    def get(self, request: Request, pk: int) -> Response:
        campaign = get_object_or_404(Campaign, pk=pk)
        return Response(CampaignProgressSerializer(asdict(campaign_progress(campaign=campaign))).data)
