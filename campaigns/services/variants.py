"""A/B test variants and settings as staff write them: checked like the campaign's own content,
written with the campaign (in its transaction), edited only in DRAFT like the rest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from campaigns.content import validate_campaign_content
from campaigns.models import (
    AB_TEST_SHARE_MIN,
    AB_WAIT_MINUTES_MAX,
    VARIANT_LABELS,
    VARIANT_MAX_LENGTHS,
    Campaign,
    CampaignVariant,
    WinnerMetric,
)
from core.errors import InvalidInputError

# What a variant may override; what it leaves empty comes from the campaign.
VARIANT_FIELDS = ("subject", "preheader", "from_name", "body_html", "body_text")
# The campaign's A/B settings, editable with the rest of the draft.
AB_FIELDS = ("ab_test_share", "ab_winner_metric", "ab_wait_minutes", "ab_require_significance")
MIN_VARIANTS, MAX_VARIANTS = 2, len(VARIANT_LABELS)


def ab_settings_check(values: Mapping[str, Any]) -> None:
    """The A/B settings' ranges (400 naming the field); defaults apply to what is missing."""
    share = values.get("ab_test_share")
    if share is not None and not AB_TEST_SHARE_MIN <= share <= 100:
        raise InvalidInputError(f"Give a percentage from {AB_TEST_SHARE_MIN} to 100.", field="ab_test_share")
    wait = values.get("ab_wait_minutes")
    if wait is not None and wait < 1:
        raise InvalidInputError("Wait at least one minute.", field="ab_wait_minutes")
    if wait is not None and wait > AB_WAIT_MINUTES_MAX:
        # The database refuses it too (a constraint): said here, on the field, not as a crash.
        raise InvalidInputError(f"Wait at most {AB_WAIT_MINUTES_MAX} minutes (30 days).", field="ab_wait_minutes")
    metric = values.get("ab_winner_metric")
    if metric is not None and metric not in WinnerMetric.values:
        raise InvalidInputError(f"Choose one of {', '.join(WinnerMetric.values)}.", field="ab_winner_metric")


def variants_check(values: Mapping[str, Any], variants: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The variants as they will be stored (label given or by position: A, B, ...), each checked
    with the campaign's content filling what it leaves empty; 400 naming `variants[i].field`.
    No variants: no A/B test."""
    if not variants:
        return []
    if not MIN_VARIANTS <= len(variants) <= MAX_VARIANTS:
        raise InvalidInputError(f"An A/B test has {MIN_VARIANTS} to {MAX_VARIANTS} variants.", field="variants")
    cleaned: list[dict[str, str]] = []
    for index, variant in enumerate(variants):
        where = f"variants[{index}]"
        unknown = set(variant) - {"label", *VARIANT_FIELDS}
        if unknown:
            raise InvalidInputError(f"Unknown field(s): {', '.join(sorted(unknown))}.", field=where)
        label = variant.get("label") or VARIANT_LABELS[index]
        if label not in VARIANT_LABELS:
            raise InvalidInputError(f"Label a variant {', '.join(VARIANT_LABELS)}.", field=f"{where}.label")
        if any(other["label"] == label for other in cleaned):
            raise InvalidInputError(f"Two variants are labelled {label}.", field=f"{where}.label")
        overrides = {name: str(variant.get(name) or "") for name in VARIANT_FIELDS}
        for name in VARIANT_FIELDS:
            longest = VARIANT_MAX_LENGTHS.get(name)
            if longest is not None and len(overrides[name]) > longest:
                raise InvalidInputError(f"At most {longest} characters.", field=f"{where}.{name}")
        merged = {name: overrides[name] or str(values.get(name) or "") for name in VARIANT_FIELDS}
        try:
            validate_campaign_content(
                subject=merged["subject"],
                preheader=merged["preheader"],
                body_html=merged["body_html"],
                body_text=merged["body_text"],
            )
        except InvalidInputError as error:
            raise InvalidInputError(error.message, field=f"{where}.{error.field}") from error
        for other in cleaned:
            if all(other[name] == overrides[name] for name in VARIANT_FIELDS):
                raise InvalidInputError(f"Same content as variant {other['label']}.", field=where)
        cleaned.append({"label": label, **overrides})
    if VARIANT_LABELS[0] not in {variant["label"] for variant in cleaned}:
        raise InvalidInputError(
            f"Variant {VARIANT_LABELS[0]} is required: it is sent when no variant wins.", field="variants"
        )
    return sorted(cleaned, key=lambda variant: variant["label"])


def campaign_variants_replace(*, campaign: Campaign, variants: Sequence[Mapping[str, str]]) -> None:
    """Store checked variants (`variants_check`) in place of the campaign's; call it inside the
    transaction that writes the campaign."""
    CampaignVariant.objects.filter(campaign=campaign).delete()
    CampaignVariant.objects.bulk_create(
        [
            CampaignVariant(
                campaign=campaign, label=variant["label"], **{name: variant[name] for name in VARIANT_FIELDS}
            )
            for variant in variants
        ]
    )


def campaign_variants_values(campaign: Campaign) -> list[dict[str, str]]:
    """The campaign's variants as `variants_check` takes them (a duplicate copies these)."""
    return [dict(row) for row in campaign.variants.order_by("label").values("label", *VARIANT_FIELDS)]
