"""The A/B test's winner: decided once, automatically when due or by staff while waiting.

The variants go to the test share while the campaign is SENDING; once the last test batch is
accepted it waits (WAITING_FOR_WINNER) until `ab_decide_at`. The decision is one conditional
UPDATE out of that status (`state_machine`): the automatic decision (RQ's scheduler, and the
periodic sweep if Redis lost that job) and staff's pick can race, and exactly one of them wins.
The winner is then sent to the remainder by the start job, which releases its HELD rows.

The rule: the variant with the highest rate on the metric (unique human opens / delivered, or
unique clicks / delivered) wins; with `ab_require_significance` only if a two-sided
two-proportion z-test against the runner-up gives p < 0.05, else variant A is sent, and the
decision says why.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from campaigns import queue
from campaigns.models import VARIANT_LABELS, Campaign, WinnerMetric
from campaigns.selectors import campaign_variant_stats
from campaigns.services.state_machine import campaign_conflict, campaign_transition, campaigns_allowing
from core.errors import InvalidInputError

logger = logging.getLogger(__name__)

SIGNIFICANCE_LEVEL = 0.05
# The stats key each metric counts (unique per recipient, human opens only: a click is an open).
METRIC_COUNTS = {WinnerMetric.OPENS: "opened", WinnerMetric.CLICKS: "clicked"}
FALLBACK_VARIANT = VARIANT_LABELS[0]


@dataclass(frozen=True)
class VariantResult:
    label: str
    delivered: int
    converted: int

    @property
    def rate(self) -> float:
        return self.converted / self.delivered if self.delivered else 0.0


def two_proportion_p_value(a: VariantResult, b: VariantResult) -> float:
    """Two-sided p-value of the z-test that two variants' rates are equal (pooled variance);
    1.0 when there is nothing to compare (no deliveries, or no variation at all)."""
    if not a.delivered or not b.delivered:
        return 1.0
    pooled = (a.converted + b.converted) / (a.delivered + b.delivered)
    variance = pooled * (1 - pooled) * (1 / a.delivered + 1 / b.delivered)
    if variance <= 0:
        return 1.0
    z = (a.rate - b.rate) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2))


@dataclass(frozen=True)
class Decision:
    winner: str
    rule: str  # significant, not_significant, best_rate, picked
    reason: str
    metric: str
    p_value: float | None
    decided_by: str
    decided_at: str
    variants: list[dict[str, Any]]


def _percent(rate: float) -> str:
    return f"{rate * 100:.1f} %"


def ab_decide(*, results: list[VariantResult], metric: str, require_significance: bool, now: datetime) -> Decision:
    """The automatic decision on these results (see the module's rule)."""
    ranked = sorted(results, key=lambda result: (-result.rate, result.label))
    best, runner_up = ranked[0], ranked[1]
    p_value = two_proportion_p_value(best, runner_up)
    measured = f"{best.label} {_percent(best.rate)} against {runner_up.label} {_percent(runner_up.rate)}"
    what = WinnerMetric(metric).label.lower()
    if not require_significance:
        winner, rule = best.label, "best_rate"
        reason = f"{best.label} had the highest rate of {what} ({measured}); no significance was required."
    elif p_value < SIGNIFICANCE_LEVEL:
        winner, rule = best.label, "significant"
        reason = f"{best.label} won on {what}: {measured}, p = {p_value:.4f} < {SIGNIFICANCE_LEVEL}."
    else:
        winner, rule = FALLBACK_VARIANT, "not_significant"
        reason = (
            f"No significant difference in {what} ({measured}, p = {p_value:.4f} ≥ {SIGNIFICANCE_LEVEL}): "
            f"variant {FALLBACK_VARIANT} is sent."
        )
    return Decision(
        winner=winner,
        rule=rule,
        reason=reason,
        metric=metric,
        p_value=round(p_value, 6),
        decided_by="automatic",
        decided_at=now.isoformat(),
        variants=_variants_payload(results),
    )


def _variants_payload(results: list[VariantResult]) -> list[dict[str, Any]]:
    return [{**asdict(result), "rate": round(result.rate, 6)} for result in results]


def variant_results(campaign: Campaign) -> list[VariantResult]:
    """Each variant's deliveries and conversions on the campaign's metric, test rows only."""
    key = METRIC_COUNTS[WinnerMetric(campaign.ab_winner_metric)]
    counts = campaign_variant_stats(campaign, test_only=True)["variants"]
    return [VariantResult(label, stats["delivered"], stats[key]) for label, stats in sorted(counts.items())]


def _apply(campaign: Campaign, *, action: str, decision: Decision, conditions: tuple[Q, ...] = ()) -> bool:
    """Leave WAITING_FOR_WINNER with this decision if still there (one conditional UPDATE), and
    start sending the remainder; True for the one caller that decided."""
    now = timezone.now()
    with transaction.atomic():
        decided = campaign_transition(
            campaign_id=campaign.pk,
            action=action,
            changes={
                "ab_winner": decision.winner,
                "ab_decision": asdict(decision),
                # The start job comes next; the watchdog restarts it from here if it is lost.
                "last_claim_at": now,
                "waiting_until": None,
                "waiting_for": "",
            },
            conditions=(Q(ab_winner=""), *conditions),
        )
        if decided:
            queue.enqueue_campaign_start(campaign.pk)
    if decided:
        logger.info("campaign %s: A/B winner %s (%s)", campaign.pk, decision.winner, decision.rule)
    return decided


def campaign_decide_winner(*, campaign_id: int, now: datetime | None = None) -> bool:
    """The automatic decision of a campaign waiting for its winner, once it is due; True for the
    one call that decided (a second run, or one racing staff's pick, finds nothing to do)."""
    now = now or timezone.now()
    campaign = campaigns_allowing("decide_winner").filter(pk=campaign_id, ab_decide_at__lte=now).first()
    if campaign is None:
        return False
    decision = ab_decide(
        results=variant_results(campaign),
        metric=campaign.ab_winner_metric,
        require_significance=campaign.ab_require_significance,
        now=now,
    )
    return _apply(campaign, action="decide_winner", decision=decision, conditions=(Q(ab_decide_at__lte=now),))


def campaigns_decide_due(*, now: datetime | None = None) -> list[int]:
    """Decide every A/B test whose wait is over (the sweep behind RQ's scheduler)."""
    now = now or timezone.now()
    due = campaigns_allowing("decide_winner").filter(ab_decide_at__lte=now).values_list("pk", flat=True)
    return [campaign_id for campaign_id in list(due) if campaign_decide_winner(campaign_id=campaign_id, now=now)]


def campaign_pick_winner(*, campaign: Campaign, variant: str, by: User) -> Campaign:
    """Staff decide now, while the campaign waits for its winner: 400 naming `variant` for a label
    the campaign does not have, 409 in any other status (the automatic decision included)."""
    labels = set(campaign.variants.values_list("label", flat=True))
    if variant not in labels:
        raise InvalidInputError(f"Choose one of {', '.join(sorted(labels)) or 'its variants'}.", field="variant")
    results = variant_results(campaign)
    now = timezone.now()
    picked = next(result for result in results if result.label == variant)
    what = WinnerMetric(campaign.ab_winner_metric).label.lower()
    decision = Decision(
        winner=variant,
        rule="picked",
        reason=f"Picked by {by.email} ({variant}: {_percent(picked.rate)} {what}).",
        metric=campaign.ab_winner_metric,
        p_value=None,
        decided_by=by.email,
        decided_at=now.isoformat(),
        variants=_variants_payload(results),
    )
    if not _apply(campaign, action="pick_winner", decision=decision):
        raise campaign_conflict(campaign.pk, "pick the winner of")
    campaign.refresh_from_db()
    return campaign
