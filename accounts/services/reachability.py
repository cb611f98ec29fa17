"""Who may be emailed: the rule, and the repair of the flag the database keeps from it.

A person may be emailed when their address is verified, they have not opted out, and the
address is not on the suppression list. `User.reachable` holds that answer per user; triggers
keep it in step with every write to users and suppressions (migration 0004_reachable), so
counts read a column instead of probing the suppression list per user.

Triggers cannot see what they are not told: a user row and a suppression of the same address
written at the same moment by two transactions each miss the other's uncommitted row. The
periodic repair (`accounts.jobs.reachability_repair`, hourly) and the `repair_reachability`
command compare the flag with the rule computed from the facts and mend any difference.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower

from accounts.models import Suppression, User


def reachability_rule() -> Q:
    """The rule from the facts (verified, not opted out, address not suppressed), as a condition on
    users: what `User.reachable` must equal. Suppressions are stored lower-cased and unique, so
    the NOT EXISTS is an anti-join on their unique index."""
    suppressed = Suppression.objects.filter(email=Lower(OuterRef("email")))
    return Q(is_verified=True, email_opted_out_at__isnull=True) & ~Q(Exists(suppressed))


@dataclass(frozen=True)
class ReachabilityRepair:
    """Users whose flag disagreed with the rule, by direction (mended unless a dry run)."""

    wrongly_reachable: int
    wrongly_unreachable: int

    @property
    def total(self) -> int:
        return self.wrongly_reachable + self.wrongly_unreachable


@transaction.atomic
def reachability_repair(*, dry_run: bool = False) -> ReachabilityRepair:
    """Set `User.reachable` to the rule wherever they differ; two set-based passes over users."""
    wrongly_reachable = User.objects.filter(reachable=True).exclude(reachability_rule())
    wrongly_unreachable = User.objects.filter(reachable=False).filter(reachability_rule())
    if dry_run:
        return ReachabilityRepair(wrongly_reachable.count(), wrongly_unreachable.count())
    return ReachabilityRepair(
        wrongly_reachable=wrongly_reachable.update(reachable=False),
        wrongly_unreachable=wrongly_unreachable.update(reachable=True),
    )
