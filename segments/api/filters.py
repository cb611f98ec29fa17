"""Query-string filters for the segment list (search and ordering come from DRF's backends)."""

from __future__ import annotations

import django_filters
from django import forms

from segments.models import Segment


class _StrictBooleanField(forms.Field):
    """`true` or `false`, as the schema's boolean says; anything else is a 400 (django-filter's
    own field reads "null", "2" or "unknown" as no filter at all)."""

    def to_python(self, value: object) -> bool | None:
        if value in (None, ""):
            return None
        if value in ("true", "false"):
            return value == "true"
        raise forms.ValidationError("Use true or false.", code="invalid")


class _StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = _StrictBooleanField


class SegmentFilter(django_filters.FilterSet):
    created_by = django_filters.NumberFilter(field_name="created_by_id", help_text="Id of the creating user.")
    has_brevo_list = _StrictBooleanFilter(
        field_name="brevo_list_id", lookup_expr="isnull", exclude=True, help_text="Mirrored to a Brevo list or not."
    )

    class Meta:
        model = Segment
        fields = ("created_by", "has_brevo_list")
