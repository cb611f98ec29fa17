"""`manage.py repair_reachability [--dry-run]`: compare every user's `reachable` flag with the rule
and mend the ones that differ (also run hourly by `rqcron`)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts.services import reachability_repair


class Command(BaseCommand):
    help = (
        "Compare each user's reachable flag with the rule it stands for (verified, not opted out, address not "
        "suppressed) and set it where they differ. The database keeps the flag itself; this mends what a restored "
        "dump, a trigger switched off or two simultaneous writes of one address left behind."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Report the differences, change nothing.")

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        report = reachability_repair(dry_run=dry_run)
        if not report.total:
            self.stdout.write("Every user's flag agrees with the rule.")
            return
        detail = (
            f"({report.wrongly_reachable} marked reachable wrongly, "
            f"{report.wrongly_unreachable} marked unreachable wrongly)"
        )
        if dry_run:
            self.stdout.write(f"{report.total} users disagree with the rule {detail}; dry run, nothing changed.")
        else:
            self.stdout.write(f"{report.total} users disagreed with the rule {detail}; mended.")
