"""The engagement criteria as the segments engine sees them (segments.criteria_providers):
their API and admin fields, with validation and queries from `campaigns.engagement`.
Registered in `CampaignsConfig.ready()`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from rest_framework import serializers

from accounts.models import User
from campaigns.engagement import (
    CAMPAIGN_CRITERIA,
    DAYS_CRITERIA,
    MAX_DAYS,
    engagement_criteria_clean,
    engagement_filter,
)
from campaigns.pickers import SentCampaignsField
from core.serializers import id_field
from segments.criteria_providers import CriterionField

HELP = {
    "received_campaigns": "Received (Brevo accepted) at least one of these campaigns.",
    "opened_campaigns": "Opened (a person, not a proxy) or clicked at least one of these campaigns.",
    "clicked_campaigns": "Clicked a link in at least one of these campaigns.",
    "not_opened_campaigns": "Received at least one of these campaigns and opened none of them "
    "(opens by a proxy such as Apple Mail Privacy Protection are not opens).",
    "not_clicked_campaigns": "Received at least one of these campaigns and clicked in none of them.",
    "engaged_within_days": f"Opened (a person) or clicked any campaign in the last N days (1 to {MAX_DAYS}).",
    "not_engaged_within_days": "Received at least one campaign in the last N days and opened or clicked "
    f"none of them (1 to {MAX_DAYS}).",
}


def _campaigns_field(name: str) -> CriterionField:
    def api_field(**kwargs: Any) -> serializers.Field:
        return serializers.ListField(child=id_field(), help_text=f"Campaign ids. {HELP[name]}", **kwargs)

    def form_field() -> forms.Field:
        return SentCampaignsField(
            required=False, help_text=f"{HELP[name]} Type to search sent campaigns by subject or name."
        )

    return CriterionField(name=name, empty=[], api_field=api_field, form_field=form_field)


def _days_field(name: str) -> CriterionField:
    def api_field(**kwargs: Any) -> serializers.Field:
        return serializers.IntegerField(
            allow_null=True, min_value=1, max_value=MAX_DAYS, help_text=HELP[name], **kwargs
        )

    def form_field() -> forms.Field:
        return forms.IntegerField(required=False, help_text=HELP[name])

    return CriterionField(name=name, empty=None, api_field=api_field, form_field=form_field)


class EngagementCriteria:
    """The provider of the seven engagement criteria."""

    title = "Engagement (from campaign results; human opens and clicks only)"
    fields = (*map(_campaigns_field, CAMPAIGN_CRITERIA), *map(_days_field, DAYS_CRITERIA))

    def clean(self, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        return engagement_criteria_clean(values)

    def filter(self, users: QuerySet[User], values: Mapping[str, Any], *, user_ids: Q) -> QuerySet[User]:
        return engagement_filter(users, values, user_ids=user_ids)


ENGAGEMENT_CRITERIA = EngagementCriteria()
