"""Query-string filters for the segment list (search and ordering come from DRF's backends)."""

from __future__ import annotations

import django_filters

from segments.models import Segment


class SegmentFilter(django_filters.FilterSet):
    created_by = django_filters.NumberFilter(field_name="created_by_id", help_text="Id of the creating user.")
    has_brevo_list = django_filters.BooleanFilter(
        field_name="brevo_list_id", lookup_expr="isnull", exclude=True, help_text="Mirrored to a Brevo list or not."
    )

    class Meta:
        model = Segment
        fields = ("created_by", "has_brevo_list")
