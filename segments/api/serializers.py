"""Segment API shapes: one serializer for input, others for what the API answers."""

from __future__ import annotations

import dataclasses
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Gender, User
from core.openapi import ConflictErrorResponseSerializer
from core.serializers import StrictFieldsMixin, id_field
from segments.criteria_providers import provided_fields
from segments.models import EXPORT_REPORT_FIELDS, Membership, Segment, SegmentExport
from segments.selectors import Criteria

_CRITERIA_FIELDS = (
    "gender",
    "properties",
    "countries",
    "states",
    "traffic_sources",
    "agents",
    "partners",
    "membership",
)


class UserSummarySerializer(serializers.ModelSerializer[User]):
    name = serializers.CharField(source="full_name", read_only=True)

    class Meta:
        model = User
        fields = ("id", "email", "name")


class CriteriaSerializer(StrictFieldsMixin, serializers.Serializer[Criteria]):
    """Segment rules. All optional; criteria combine with AND, values within one with OR.

    Types are checked here; existence, roles and the at-least-one rule are checked by
    `segments.services.criteria_validate`, which the admin uses too. The criteria other apps
    contribute (segments.criteria_providers) are added as fields of their own.
    """

    gender = serializers.ChoiceField(choices=Gender.choices, allow_blank=True, required=False)
    properties = serializers.ListField(child=id_field(), required=False)
    countries = serializers.ListField(
        child=serializers.CharField(max_length=2, min_length=2), required=False, help_text="ISO 3166-1 alpha-2."
    )
    states = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    traffic_sources = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    agents = serializers.ListField(child=id_field(), required=False, help_text="Ids of users with role AGENT.")
    partners = serializers.ListField(
        child=id_field(),
        required=False,
        help_text="Ids of users with role PARTNER and an active partnership.",
    )
    membership = serializers.ChoiceField(choices=Membership.choices, required=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for name, criterion in provided_fields().items():
            fields[name] = criterion.api_field(required=False)
        return fields

    def to_criteria(self, base: Criteria | None = None) -> Criteria:
        """The validated data as Criteria; fields not sent keep `base`'s values (for PATCH)."""
        base = base or Criteria()
        given = {field: self.validated_data[field] for field in _CRITERIA_FIELDS if field in self.validated_data}
        for field, value in given.items():
            if isinstance(value, list):
                given[field] = tuple(value)
        extra = dict(base.extra)
        for name in provided_fields():
            if name in self.validated_data:
                extra[name] = self.validated_data[name]
        return dataclasses.replace(base, **given, extra=extra)

    def has_criteria(self) -> bool:
        return any(field in self.validated_data for field in (*_CRITERIA_FIELDS, *provided_fields()))


class SegmentInputSerializer(CriteriaSerializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, required=False)


class SegmentExportSerializer(serializers.ModelSerializer[SegmentExport]):
    exported_by = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = SegmentExport
        fields = ("id", *EXPORT_REPORT_FIELDS)
        read_only_fields = fields


class SegmentSyncInputSerializer(StrictFieldsMixin, serializers.Serializer[Any]):
    full = serializers.BooleanField(
        default=False,
        help_text="Re-import every member, not only those new or changed since the last sync "
        "(repairs a list edited in Brevo's own tools).",
    )


class SegmentSyncConflictSerializer(ConflictErrorResponseSerializer):
    """409: a sync of this segment is already pending or running (`export` is that sync), or
    Brevo is not configured."""

    export = SegmentExportSerializer(required=False, help_text="The sync pending or running.")


@extend_schema_field(SegmentExportSerializer(allow_null=True))
class LastExportField(serializers.Field):
    """The segment's newest export, from `segment_list()`'s prefetch when present.

    One export serializer per field, reused for every row: building a serializer per row
    costs more than the whole list query.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", read_only=True, **kwargs)
        self.export_serializer = SegmentExportSerializer()

    def to_representation(self, segment: Segment) -> dict[str, Any] | None:
        prefetched: list[SegmentExport] | None = getattr(segment, "latest_exports", None)
        if prefetched is not None:
            export = prefetched[0] if prefetched else None
        else:
            export = segment.exports.select_related("exported_by").order_by("-created_at", "-id").first()
        return None if export is None else self.export_serializer.to_representation(export)


class SegmentSerializer(serializers.ModelSerializer[Segment]):
    """A saved segment as the API shows it. Expects `segments.selectors.segment_list()` rows."""

    properties = serializers.SerializerMethodField()
    agents = serializers.SerializerMethodField()
    partners = serializers.SerializerMethodField()
    created_by = UserSummarySerializer(read_only=True, allow_null=True)
    last_export = LastExportField()

    class Meta:
        model = Segment
        fields = (
            "id",
            "name",
            "description",
            *_CRITERIA_FIELDS,
            "brevo_list_id",
            "matching_count",
            "reachable_count",
            "counts_refreshed_at",
            "created_by",
            "created_at",
            "updated_at",
            "last_export",
        )
        read_only_fields = fields

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # Contributed criteria are shown like the others, right after them.
        ordered: dict[str, serializers.Field] = {}
        for name, field in fields.items():
            if name == "brevo_list_id":
                for criterion_name, criterion in provided_fields().items():
                    ordered[criterion_name] = criterion.api_field(
                        read_only=True, source=f"extra_criteria.{criterion_name}", default=criterion.empty
                    )
            ordered[name] = field
        return ordered

    def get_properties(self, segment: Segment) -> list[int]:
        return sorted(item.pk for item in segment.properties.all())

    def get_agents(self, segment: Segment) -> list[int]:
        return sorted(item.pk for item in segment.agents.all())

    def get_partners(self, segment: Segment) -> list[int]:
        return sorted(item.pk for item in segment.partners.all())


class PreviewUserSerializer(serializers.ModelSerializer[User]):
    reachable = serializers.SerializerMethodField(help_text="Verified, not opted out, not suppressed.")

    class Meta:
        model = User
        fields = (
            "id",
            "email",
            "first_name",
            "last_name",
            "country",
            "state",
            "gender",
            "membership_status",
            "referral_source",
            "is_verified",
            "reachable",
        )
        read_only_fields = fields

    def get_reachable(self, user: User) -> bool:
        return user.pk in self.context["reachable_ids"]


class PreviewSerializer(serializers.Serializer[Any]):
    """A preview page: live counts, then one keyset page of matching users in id order."""

    matching_count = serializers.IntegerField()
    reachable_count = serializers.IntegerField()
    counts_refreshed_at = serializers.DateTimeField(allow_null=True)
    count = serializers.IntegerField(help_text="Matching users in all pages (same as matching_count).")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PreviewUserSerializer(many=True)


class MonthlyStatsSerializer(serializers.Serializer[Any]):
    month = serializers.DateField(help_text="First day of the month.")
    segments_created = serializers.IntegerField()
    exports = serializers.IntegerField()


class SegmentStatsSerializer(serializers.Serializer[Any]):
    total_segments = serializers.IntegerField()
    segments_this_month = serializers.IntegerField()
    total_exports = serializers.IntegerField()
    successful_exports = serializers.IntegerField()
    failed_exports = serializers.IntegerField()
    exports_this_month = serializers.IntegerField()
    monthly = MonthlyStatsSerializer(many=True, help_text="The last 12 months, oldest first, zero-filled.")
