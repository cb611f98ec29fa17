"""The picker of sent campaigns that campaigns lends to other apps' forms (the segment form)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelectMultiple
from django.core.exceptions import ValidationError
from django.urls import reverse

from campaigns.models import Campaign


def campaign_label(campaign: Campaign) -> str:
    """How a campaign reads in a picker: its name, when it started sending, id."""
    started = f"sent {campaign.started_at:%Y-%m-%d}" if campaign.started_at else campaign.get_status_display().lower()
    return f"{campaign} ({started}, #{campaign.pk})"


class SentCampaignsWidget(AutocompleteSelectMultiple):
    """The admin's own select2 autocomplete, searching sent campaigns by subject or name.

    The admin's autocomplete view serves relation fields only, and a segment's engagement
    criteria are not a relation (segments may not point at campaigns), so the options come from
    the campaign admin's sent-campaign search instead; everything else is Django's widget.
    """

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        # The field is only read for data attributes the search ignores; the primary key will do.
        # select2 takes its width from the style: wide enough for a name and its date.
        super().__init__(
            Campaign._meta.pk, admin.site, attrs={"style": "width: 36em; max-width: 100%", **(attrs or {})}
        )

    def get_url(self) -> str:
        return reverse("admin:campaigns_campaign_sent_search")

    def optgroups(self, name: str, value: Sequence[str], attrs: dict[str, Any] | None = None) -> list[Any]:
        """Only the chosen campaigns are rendered; the others come from the search."""
        ids = [int(pk) for pk in value if str(pk).isdigit()]
        chosen = Campaign.objects.filter(pk__in=ids).order_by("-started_at", "-pk")
        options = [
            self.create_option(name, campaign.pk, campaign_label(campaign), True, index)
            for index, campaign in enumerate(chosen)
        ]
        return [(None, options, 0)]


class SentCampaignsField(forms.Field):
    """A list of campaign ids; whether they exist and were sent is the criteria's validation."""

    widget = SentCampaignsWidget

    def to_python(self, value: Any) -> list[int]:
        if value in self.empty_values:
            return []
        try:
            return sorted({int(pk) for pk in value})
        except (TypeError, ValueError):
            raise ValidationError("Choose campaigns from the list.", code="invalid") from None

    def prepare_value(self, value: Any) -> Any:
        return [str(pk) for pk in value] if isinstance(value, list | tuple) else value
