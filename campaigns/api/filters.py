"""Filters for the campaign list and the recipients ledger."""

from __future__ import annotations

import django_filters

from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus


class CampaignFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=CampaignStatus.choices)

    class Meta:
        model = Campaign
        fields = ("status", "segment", "target_segment")


class RecipientFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=RecipientStatus.choices)

    class Meta:
        model = CampaignRecipient
        fields = ("status",)
