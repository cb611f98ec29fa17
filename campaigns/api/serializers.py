"""Campaign API shapes: one serializer for input, one for output, small ones for actions."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User
from campaigns.api.stats import CampaignRatesSerializer, LinkClicksSerializer
from campaigns.engagement import FOLLOW_UP_AUDIENCES
from campaigns.models import VARIANT_LABELS, VARIANT_MAX_LENGTHS, Campaign, CampaignRecipient
from campaigns.selectors import campaign_rates
from campaigns.services.lifecycle import EDITABLE_FIELDS
from campaigns.services.sending import MAX_TEST_RECIPIENTS
from campaigns.services.variants import campaign_variants_values
from core.serializers import OptionalEmailField, StrictFieldsMixin
from segments.models import Segment


class VariantInputSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    """One A/B variant: what it leaves empty comes from the campaign."""

    label = serializers.ChoiceField(  # type: ignore[assignment]  # a field named like Field.label
        choices=VARIANT_LABELS, required=False, help_text="A, B, C or D; by position when omitted."
    )
    subject = serializers.CharField(required=False, allow_blank=True, max_length=VARIANT_MAX_LENGTHS["subject"])
    preheader = serializers.CharField(required=False, allow_blank=True, max_length=VARIANT_MAX_LENGTHS["preheader"])
    from_name = serializers.CharField(required=False, allow_blank=True, max_length=VARIANT_MAX_LENGTHS["from_name"])
    body_html = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    body_text = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class CampaignInputSerializer(StrictFieldsMixin, serializers.ModelSerializer[Campaign]):
    """What staff write. Placeholders and the audience preset are checked by the services."""

    segment = serializers.PrimaryKeyRelatedField(queryset=Segment.objects.all(), required=False, allow_null=True)
    from_email = OptionalEmailField(required=False, help_text="Defaults to DEFAULT_FROM_EMAIL.")
    reply_to = OptionalEmailField(required=False)
    variants = VariantInputSerializer(
        many=True,
        required=False,
        help_text="2 to 4 variants make an A/B test (the `ab_` settings); the list replaces the draft's; [] ends it.",
    )

    class Meta:
        model = Campaign
        fields = (*EDITABLE_FIELDS, "variants")
        extra_kwargs = {"body_html": {"trim_whitespace": False}, "body_text": {"trim_whitespace": False}}

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as error:
            # Errors of a variant named as the services name them: `variants[1].subject`.
            detail = error.detail
            nested = detail.get("variants") if isinstance(detail, dict) else None
            # DRF reports a list's item errors by index, as a dict (or a list of them).
            items = (
                enumerate(nested) if isinstance(nested, list) else nested.items() if isinstance(nested, dict) else ()
            )
            if not items or not isinstance(detail, dict):
                raise
            flat: dict[str, Any] = {name: value for name, value in detail.items() if name != "variants"}
            for index, problems in items:
                if isinstance(problems, dict):
                    flat.update({f"variants[{index}].{name}": messages for name, messages in problems.items()})
                elif problems:
                    flat["variants"] = problems
            raise serializers.ValidationError(flat) from error


class CampaignSerializer(serializers.ModelSerializer[Campaign]):
    """A campaign as listed: content, audience, status, progress and dates."""

    segment_name = serializers.CharField(source="segment.name", read_only=True, default=None, allow_null=True)
    created_by = serializers.EmailField(source="created_by.email", read_only=True, default=None, allow_null=True)
    from_email = OptionalEmailField(read_only=True)
    reply_to = OptionalEmailField(read_only=True)

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


class VariantCountsSerializer(serializers.Serializer[dict[str, Any]]):
    """Counts of an A/B test's rows: `opened` counts people (human opens or clicks), `machine_opened`
    recipients opened only by a proxy (Apple Mail Privacy Protection), each unique."""

    recipients = serializers.IntegerField()
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    opened = serializers.IntegerField()
    machine_opened = serializers.IntegerField()
    clicked = serializers.IntegerField()
    bounced = serializers.IntegerField()
    unsubscribed = serializers.IntegerField()
    complained = serializers.IntegerField()


class VariantResultSerializer(serializers.Serializer[dict[str, Any]]):
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    subject = serializers.CharField(help_text="Empty: the campaign's.")
    preheader = serializers.CharField()
    from_name = serializers.CharField()
    body_html = serializers.CharField()
    body_text = serializers.CharField()
    stats = VariantCountsSerializer(help_text="Its rows in the test share (the remainder is counted apart).")
    rates = CampaignRatesSerializer()


class RemainderResultSerializer(serializers.Serializer[dict[str, Any]]):
    stats = VariantCountsSerializer()
    rates = CampaignRatesSerializer()


class AbDecisionSerializer(serializers.Serializer[dict[str, Any]]):
    winner = serializers.CharField()
    rule = serializers.CharField(
        help_text="significant (p < 0.05), not_significant (variant A sent instead), best_rate (no test asked) "
        "or picked (staff's choice)."
    )
    reason = serializers.CharField()
    metric = serializers.CharField()
    p_value = serializers.FloatField(allow_null=True)
    decided_by = serializers.CharField(help_text='"automatic", or the email of whoever picked the winner.')
    decided_at = serializers.DateTimeField()
    variants = serializers.ListField(child=serializers.DictField(), help_text="label, delivered, converted, rate.")


class CampaignDetailSerializer(CampaignSerializer):
    """One campaign with its counts (`stats`): the ledger's by status, then tracking counts;
    the `rates` those counts give, and clicks per link (`links`). A/B tests add their
    `variants` with each one's counts, the remainder's, and the winner's decision."""

    stats = serializers.SerializerMethodField()
    rates = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()
    variants = serializers.SerializerMethodField()
    ab_remainder = serializers.SerializerMethodField()
    ab_decision = AbDecisionSerializer(read_only=True, allow_null=True)

    class Meta(CampaignSerializer.Meta):
        fields = (
            *CampaignSerializer.Meta.fields,
            "stats",
            "rates",
            "links",
            "variants",
            "ab_remainder",
            "ab_decide_at",
            "ab_winner",
            "ab_decision",
        )
        read_only_fields = fields

    @extend_schema_field(VariantResultSerializer(many=True))
    def get_variants(self, campaign: Campaign) -> list[dict[str, Any]]:
        counts = self.context["variant_stats"]["variants"]
        return [
            {**variant, "stats": counts[variant["label"]], "rates": campaign_rates(counts[variant["label"]])}
            for variant in campaign_variants_values(campaign)
        ]

    @extend_schema_field(RemainderResultSerializer(allow_null=True))
    def get_ab_remainder(self, campaign: Campaign) -> dict[str, Any] | None:
        remainder = self.context["variant_stats"]["remainder"]
        if remainder is None or not self.context["variant_stats"]["variants"]:
            return None
        return {"stats": remainder, "rates": campaign_rates(remainder)}

    def get_stats(self, campaign: Campaign) -> dict[str, int]:
        return dict(self.context["stats"])

    @extend_schema_field(CampaignRatesSerializer)
    def get_rates(self, campaign: Campaign) -> dict[str, float | None]:
        return campaign_rates(self.context["stats"])

    @extend_schema_field(LinkClicksSerializer(many=True))
    def get_links(self, campaign: Campaign) -> list[dict[str, Any]]:
        return list(self.context["links"])


class CampaignDuplicateSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
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


class CampaignSendSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    scheduled_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Send at this time (ISO 8601, in the future); omit to send now."
    )


class CampaignFollowUpSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    audience = serializers.ChoiceField(
        choices=[(name, label) for name, (_, label) in FOLLOW_UP_AUDIENCES.items()],
        help_text="Who the follow-up reaches among the campaign's recipients (human opens only; a click is an open).",
    )
    subject = serializers.CharField(
        required=False, max_length=255, help_text="The draft's subject; the campaign's own when not given."
    )


class CampaignTestSendSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    emails = serializers.ListField(
        child=serializers.EmailField(), min_length=1, max_length=MAX_TEST_RECIPIENTS, help_text="Up to 10 addresses."
    )
    variant = serializers.CharField(
        required=False, help_text="Send this A/B variant (A-D); the campaign's own without."
    )


class CampaignPickWinnerSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    variant = serializers.CharField(help_text="The variant to send the remainder (A-D).")


class CampaignTestSendResultSerializer(serializers.Serializer[Any]):
    sent_to = serializers.ListField(child=serializers.EmailField())


class CampaignPreviewQuerySerializer(serializers.Serializer[Any]):
    user = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), required=False, help_text="Render for this user (sample data without)."
    )
    variant = serializers.CharField(required=False, help_text="Render this A/B variant (A-D).")


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
