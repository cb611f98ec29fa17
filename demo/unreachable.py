"""Demo people who may not be emailed any more: suppressed addresses and opt-outs.

A real audience of a million carries tens of thousands of bounced, complained or unsubscribed
addresses and more people who opted out; counts, snapshots and syncs must be fast with them in
place, so `seed_demo --suppressions N --opt-outs M` adds them, deterministically for a seed and
only once (a second run adds nothing).

Suppressions go in through accounts' bulk service (`suppressions_add_many`), nine in ten for
addresses of demo users, the rest for addresses without an account. Opt-outs are history from
before this database: one set-based UPDATE of `email_opted_out_at` and the matching rows of
campaigns' opt-out history, rather than `user_opt_out` a hundred thousand times (a call and
its listener per person would take minutes). The database keeps `User.reachable` in step with
both (triggers), as it does for every write.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction

from accounts.models import OptOutMethod, Suppression, SuppressionReason, User
from accounts.services import suppressions_add_many
from campaigns.models import SubscriptionChange
from demo.rows import demo_email

# Brevo's reasons, roughly as a list built over years of sending spreads them.
SUPPRESSION_REASONS = (
    (SuppressionReason.HARD_BOUNCE, 60),
    (SuppressionReason.UNSUBSCRIBE, 20),
    (SuppressionReason.COMPLAINT, 10),
    (SuppressionReason.BLOCKED, 10),
)
# Of the suppressed addresses, the share that belongs to a demo user.
SUPPRESSED_USERS_SHARE = 0.9
OPT_OUT_METHODS = ((OptOutMethod.LINK, 6), (OptOutMethod.ONE_CLICK, 3), (OptOutMethod.BREVO, 1))
# Addresses handled per round (one IN list), and rows per UPDATE (Django writes one CASE
# branch per row: a few hundred keep each statement quick).
CHUNK = 5_000
UPDATE_BATCH = 500


@dataclass(frozen=True)
class UnreachableReport:
    suppressions: int
    opt_outs: int


def demo_unreachable_ensure(
    *, users: int, suppressions: int, opt_outs: int, seed: int, now: datetime | None = None
) -> UnreachableReport:
    """Suppress `suppressions` addresses and opt `opt_outs` demo users out (of the first `users`),
    the same ones for the same seed; returns how many of each this run added."""
    if min(suppressions, opt_outs) < 0:
        raise ValueError("suppressions and opt-outs must be zero or more")
    now = now or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    rng = random.Random(f"{seed}:unreachable")
    on_users = min(round(suppressions * SUPPRESSED_USERS_SHARE), users)
    suppressed_numbers = rng.sample(range(1, users + 1), on_users)
    opted_numbers = rng.sample(range(1, users + 1), min(opt_outs, users))
    with transaction.atomic():
        added = _suppress(rng, suppressed_numbers, suppressions - on_users, now)
        opted = _opt_out(rng, opted_numbers, now)
    return UnreachableReport(suppressions=added, opt_outs=opted)


def _suppress(rng: random.Random, numbers: list[int], strangers: int, now: datetime) -> int:
    reasons = [reason for reason, weight in SUPPRESSION_REASONS for _ in range(weight)]
    addresses = [demo_email(number) for number in numbers] + [
        f"former{number:07d}@example.org" for number in range(1, strangers + 1)
    ]
    before = Suppression.objects.count()
    for start in range(0, len(addresses), CHUNK):
        suppressions_add_many(
            entries=[
                Suppression(
                    email=address,
                    reason=rng.choice(reasons),
                    source="demo",
                    created_at=now - timedelta(days=rng.randrange(1, 3 * 365)),
                )
                for address in addresses[start : start + CHUNK]
            ]
        )
    return Suppression.objects.count() - before


def _opt_out(rng: random.Random, numbers: list[int], now: datetime) -> int:
    methods = [method for method, weight in OPT_OUT_METHODS for _ in range(weight)]
    opted = 0
    for start in range(0, len(numbers), CHUNK):
        emails = [demo_email(number) for number in numbers[start : start + CHUNK]]
        # Users already opted out (an earlier run, or the person since) keep their own time.
        people = list(
            User.objects.filter(email__in=emails, email_opted_out_at__isnull=True)
            .only("id", "date_joined")
            .order_by("id")
        )
        history = []
        for person in people:
            # Some days after joining, never in the future.
            at = min(person.date_joined + timedelta(days=rng.randrange(1, 400)), now)
            person.email_opted_out_at = at
            history.append(SubscriptionChange(user=person, opted_out=True, method=rng.choice(methods), created_at=at))
        User.objects.bulk_update(people, ["email_opted_out_at"], batch_size=UPDATE_BATCH)
        SubscriptionChange.objects.bulk_create(history)
        opted += len(people)
    return opted
