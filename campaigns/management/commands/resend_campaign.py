"""Operator's resend: FAILED / UNKNOWN recipients again, and audience members who joined later."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.models import Campaign
from campaigns.services import campaign_resend
from core.errors import StateConflictError


class Command(BaseCommand):
    help = (
        "Queue a campaign's FAILED (--failed) and/or UNKNOWN (--unknown) recipients again, and/or add "
        "audience members who joined after sending began (--new-members). UNKNOWN recipients may "
        "already have the message: resending them is a decision, not a repair."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("--failed", action="store_true", help="Resend recipients whose send failed.")
        parser.add_argument("--unknown", action="store_true", help="Resend recipients whose outcome is unknown.")
        parser.add_argument("--new-members", action="store_true", help="Add people who joined the audience since.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not (options["failed"] or options["unknown"] or options["new_members"]):
            raise CommandError("Say what to resend: --failed, --unknown and/or --new-members.")
        campaign = Campaign.objects.filter(pk=options["campaign_id"]).first()
        if campaign is None:
            raise CommandError(f"No campaign {options['campaign_id']}.")
        try:
            result = campaign_resend(
                campaign=campaign,
                failed=options["failed"],
                unknown=options["unknown"],
                new_members=options["new_members"],
            )
        except StateConflictError as error:
            raise CommandError(error.message) from error
        self.stdout.write(
            f"Campaign {campaign.pk}: {result.requeued} recipients queued again, "
            f"{result.added} new members added; status {result.status}."
        )
