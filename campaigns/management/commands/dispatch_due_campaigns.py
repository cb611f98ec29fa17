"""Start scheduled campaigns whose time has passed (also run by the cron every minute)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from campaigns.services import campaigns_dispatch_due


class Command(BaseCommand):
    help = "Start every SCHEDULED campaign whose scheduled time has passed; each starts exactly once."

    def handle(self, *args: Any, **options: Any) -> None:
        started = campaigns_dispatch_due()
        if started:
            self.stdout.write(f"Started campaigns: {', '.join(str(campaign_id) for campaign_id in started)}.")
        else:
            self.stdout.write("No campaign is due.")
