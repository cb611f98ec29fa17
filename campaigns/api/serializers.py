"""Campaign API shapes: one serializer for input, one for output, small ones for actions."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User
from campaigns.api.stats import CampaignRatesSerializer, LinkClicksSerializer
from campaigns.engagement import FOLLOW_UP_AUDIENCES
from campaigns.models import Campaign, CampaignRecipient
from campaigns.selectors import campaign_rates
from campaigns.services.lifecycle import EDITABLE_FIELDS
from campaigns.services.sending import MAX_TEST_RECIPIENTS
from segments.models import Segment


class CampaignInputSerializer(serializers.ModelSerializer[Campaign]):
    """What staff write. Placeholders and the audience preset are checked by the services."""

    segment = serializers.PrimaryKeyRelatedField(queryset=Segment.objects.all(), required=False, allow_null=True)

    class Meta:
        model = Campaign
        fields = EDITABLE_FIELDS
        extra_kwargs = {"body_html": {"trim_whitespace": False}, "body_text": {"trim_whitespace": False}}


class CampaignSerializer(serializers.ModelSerializer[Campaign]):
    """A campaign as listed: content, audience, status, progress and dates."""

    segment_name = serializers.CharField(source="segment.name", read_only=True, default=None)
    created_by = serializers.EmailField(source="created_by.email", read_only=True, default=None)

    class Meta:
        model = Campaign
        fields: tuple[str, ...] = (
            "id",
            *EDITABLE_FIELDS,
            "segment_name",
            "deleted_segment_name",
            "status",
            "status_reason",
            "scheduled_at",
            "started_at",
            "sent_at",
            "recipients_total",
            "recipient_count",
            "created_by",
            "created_at",
            "updated_at",
        )
        read_only_fields: tuple[str, ...] = fields


class CampaignDetailSerializer(CampaignSerializer):
    """One campaign with its counts (`stats`): the ledger's by status, then tracking counts;
    the `rates` those counts give, and clicks per link (`links`)."""

    stats = serializers.SerializerMethodField()
    rates = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta(CampaignSerializer.Meta):
        fields = (*CampaignSerializer.Meta.fields, "stats", "rates", "links")
        read_only_fields = fields

    def get_stats(self, campaign: Campaign) -> dict[str, int]:
        return dict(self.context["stats"])

    @extend_schema_field(CampaignRatesSerializer)
    def get_rates(self, campaign: Campaign) -> dict[str, float | None]:
        return campaign_rates(self.context["stats"])

    @extend_schema_field(LinkClicksSerializer(many=True))
    def get_links(self, campaign: Campaign) -> list[dict[str, Any]]:
        return list(self.context["links"])


class CampaignDuplicateSerializer(serializers.Serializer[Any]):
    subject = serializers.CharField(
        required=False,
        max_length=Campaign._meta.get_field("subject").max_length,
        help_text="The copy's subject; omit for the original's, prefixed with \"Copy of\".",
    )


class CampaignDuplicateResultSerializer(CampaignDetailSerializer):
    """The new draft, and what it does differently from the original."""

    notices = serializers.SerializerMethodField(
        help_text="Differences staff should know about, e.g. a deleted segment: the copy targets the preset only."
    )

    class Meta(CampaignDetailSerializer.Meta):
        fields = (*CampaignDetailSerializer.Meta.fields, "notices")
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_notices(self, campaign: Campaign) -> list[str]:
        return list(self.context["notices"])


class CampaignSendSerializer(serializers.Serializer[Any]):
    scheduled_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Send at this time (ISO 8601, in the future); omit to send now."
    )


class CampaignFollowUpSerializer(serializers.Serializer[Any]):
    audience = serializers.ChoiceField(
        choices=[(name, label) for name, (_, label) in FOLLOW_UP_AUDIENCES.items()],
        help_text="Who the follow-up reaches among the campaign's recipients (human opens only; a click is an open).",
    )
    subject = serializers.CharField(
        required=False, max_length=255, help_text="The draft's subject; the campaign's own when not given."
    )


class CampaignTestSendSerializer(serializers.Serializer[Any]):
    emails = serializers.ListField(
        child=serializers.EmailField(), min_length=1, max_length=MAX_TEST_RECIPIENTS, help_text="Up to 10 addresses."
    )


class CampaignTestSendResultSerializer(serializers.Serializer[Any]):
    sent_to = serializers.ListField(child=serializers.EmailField())


class CampaignPreviewQuerySerializer(serializers.Serializer[Any]):
    user = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), required=False, help_text="Render for this user (sample data without)."
    )


class CampaignPreviewSerializer(serializers.Serializer[Any]):
    subject = serializers.CharField()
    html = serializers.CharField()
    text = serializers.CharField()


class CampaignAudienceSerializer(serializers.Serializer[Any]):
    reachable = serializers.IntegerField(help_text="Users the campaign would reach if sent now.")


class CampaignRecipientSerializer(serializers.ModelSerializer[CampaignRecipient]):
    class Meta:
        model = CampaignRecipient
        fields = (
            "id",
            "user",
            "email",
            "first_name",
            "last_name",
            "status",
            "message_id",
            "attempts",
            "last_error",
            "claimed_at",
            "sent_at",
        )
        read_only_fields = fields
