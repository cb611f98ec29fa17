"""`manage.py seed_demo --users N [--seed S] [--suppressions N] [--opt-outs N] [--history N]`: fill the
database with a realistic demo audience, and optionally a history of sent campaigns."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from demo.history import demo_history_ensure
from demo.services import ADMIN_EMAIL, demo_admin_ensure, demo_examples_ensure, demo_seed
from demo.unreachable import demo_unreachable_ensure


class Command(BaseCommand):
    help = (
        "Create N demo users (roles, memberships, countries, traffic sources, properties, enrollments, "
        "leads, partner referrals), the admin@example.com superuser, example segments and draft "
        "campaigns. Deterministic for a seed; running it again adds nothing that already exists."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, default=2000, help="How many demo users (default 2000).")
        parser.add_argument("--seed", type=int, default=0, help="Random seed; the same seed gives the same data.")
        parser.add_argument(
            "--suppressions",
            type=int,
            default=0,
            help="Suppressed addresses to add (bounces, complaints...): 9 in 10 of demo users, the rest of nobody.",
        )
        parser.add_argument("--opt-outs", type=int, default=0, help="Demo users to opt out of campaign email.")
        parser.add_argument(
            "--history",
            type=int,
            default=0,
            help="Sent campaigns to add (one every 9 days back from 2 days ago), each to most of the list, "
            "with delivered, human open, machine open and click data in the ledger.",
        )

    def handle(
        self, *args: Any, users: int, seed: int, suppressions: int, opt_outs: int, history: int, **options: Any
    ) -> None:
        if users < 0:
            raise CommandError("--users must be zero or more.")
        if suppressions < 0 or opt_outs < 0:
            raise CommandError("--suppressions and --opt-outs must be zero or more.")
        if history < 0:
            raise CommandError("--history must be zero or more.")
        # The admin first, so the totals below count it; its password is printed last, where it is seen.
        password = demo_admin_ensure()
        report = demo_seed(users=users, seed=seed, progress=self.stdout.write)

        self.stdout.write(f"Seeded {users:,} demo users (seed {seed}) in {report.elapsed:.1f}s:")
        width = max(len(table) for table in report.totals)
        for table, total in report.totals.items():
            inserted = report.inserted.get(table, 0)
            self.stdout.write(f"  {table:<{width}}  {inserted:>10,} new  {total:>10,} in total")

        if suppressions or opt_outs:
            added = demo_unreachable_ensure(users=users, suppressions=suppressions, opt_outs=opt_outs, seed=seed)
            self.stdout.write(f"Unreachable: {added.suppressions:,} new suppressions, {added.opt_outs:,} new opt-outs.")

        if history:
            # After the suppressions and opt-outs: who could be emailed when depends on them.
            sent = demo_history_ensure(campaigns=history, seed=seed, progress=self.stdout.write)
            self.stdout.write(f"History: {sent.campaigns:,} new sent campaigns, {sent.rows:,} ledger rows.")

        segments, campaigns = demo_examples_ensure(by=User.objects.get(email__iexact=ADMIN_EMAIL))
        self.stdout.write(f"Examples: {segments} new segments, {campaigns} new draft campaigns.")

        if password is None:
            self.stdout.write(f"Superuser {ADMIN_EMAIL} already exists; its password is unchanged.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Superuser {ADMIN_EMAIL} created with password: {password}"))
            self.stdout.write("  (shown only this once)")
