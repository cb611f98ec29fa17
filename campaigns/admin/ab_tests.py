"""The campaign page's A/B test: its variants, edited inline while the campaign is a draft (read
only after), and the results once sending began: each variant's counts and rates, the
remainder's, and the winner with the reason it won."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from campaigns import selectors
from campaigns.admin.forms import VariantForm, VariantFormSet
from campaigns.models import VARIANT_LABELS, Campaign, CampaignVariant
from campaigns.services.state_machine import campaign_action_allowed
from campaigns.services.variants import MAX_VARIANTS, MIN_VARIANTS

# What each rule of the decision means, as the results say it (campaigns.services.ab_tests).
RULES = {
    "significant": "significant difference (two-proportion test, p < 0.05)",
    "not_significant": "no significant difference (p ≥ 0.05), so variant A was sent",
    "best_rate": "highest rate; no significance was required",
    "picked": "picked by staff",
}
# Counts of the results table, in its order, with the rate shown beside each (None: no rate).
_COLUMNS = (
    ("recipients", None),
    ("sent", None),
    ("delivered", "delivery_rate"),
    ("opened", "open_rate"),
    ("machine_opened", "machine_open_rate"),
    ("clicked", "click_rate"),
)


def _editable(campaign: Campaign | None) -> bool:
    return campaign is None or campaign_action_allowed(campaign=campaign, action="edit")


class VariantInline(admin.StackedInline):
    """Variants A-D under the A/B settings: empty fields take the campaign's; none, no A/B test."""

    model = CampaignVariant
    form = VariantForm
    formset = VariantFormSet
    max_num = MAX_VARIANTS
    verbose_name = "variant"
    verbose_name_plural = "A/B variants"
    fields = ("label", ("subject", "from_name"), "preheader", "body_html", "body_text")
    classes = ("campaign-variants",)

    def get_extra(self, request: HttpRequest, obj: Campaign | None = None, **kwargs: Any) -> int:
        # A draft offers the two rows a test needs; "Add another variant" gives up to four.
        if not _editable(obj):
            return 0
        existing = obj.variants.count() if obj is not None else 0
        return max(MIN_VARIANTS - existing, 0)

    def has_add_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return _editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return _editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return _editable(obj) and super().has_delete_permission(request, obj)


def free_labels(campaign: Campaign | None) -> list[dict[str, str]]:
    """Initial letters of the rows a draft offers, after those its variants use."""
    used = set(campaign.variants.values_list("label", flat=True)) if campaign is not None else set()
    return [{"label": label} for label in VARIANT_LABELS if label not in used]


def _percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f} %"


@dataclass(frozen=True)
class ResultRow:
    label: str
    subject: str
    cells: list[tuple[int, str]]  # each count of `_COLUMNS` and its rate ("" without one)
    winner: bool


def _row(label: str, subject: str, stats: dict[str, int], *, winner: bool) -> ResultRow:
    rates = selectors.campaign_rates(stats)
    cells = [(stats[key], _percent(rates[rate]) if rate else "") for key, rate in _COLUMNS]
    return ResultRow(label=label, subject=subject, cells=cells, winner=winner)


def ab_results(campaign: Campaign) -> dict[str, Any] | None:
    """The results table's rows and the decision, for a test whose audience is frozen (None otherwise)."""
    variants = list(campaign.variants.all())
    if not variants or campaign.audience_frozen_at is None:
        return None
    counts = selectors.campaign_variant_stats(campaign)
    rows = [
        _row(
            variant.label,
            variant.subject or campaign.subject,
            counts["variants"][variant.label],
            winner=variant.label == campaign.ab_winner,
        )
        for variant in variants
    ]
    remainder = counts["remainder"]
    return {
        "rows": rows,
        "remainder": _row("Remainder", "", remainder, winner=False) if remainder is not None else None,
        "remainder_size": remainder["recipients"] if remainder is not None else 0,
        "decision": _decision(campaign.ab_decision),
        "can_pick": campaign_action_allowed(campaign=campaign, action="pick_winner"),
    }


def _decision(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    if not stored:
        return None
    p_value = stored.get("p_value")
    by = stored.get("decided_by", "")
    return {
        "winner": stored.get("winner", ""),
        "reason": stored.get("reason", ""),
        "rule": RULES.get(stored.get("rule", ""), stored.get("rule", "")),
        "p_value": "" if p_value is None else ("< 0.0001" if p_value < 0.0001 else f"{p_value:.4f}"),
        "by": "automatically" if by == "automatic" else f"by {by}",
        "at": datetime.fromisoformat(stored["decided_at"]) if stored.get("decided_at") else None,
    }
