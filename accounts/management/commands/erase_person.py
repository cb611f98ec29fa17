"""`manage.py erase_person EMAIL`: erase a person on request, keeping them unreachable."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import person_erase
from core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Erase the person at EMAIL everywhere (account, campaign ledgers, tracking events, opt-out "
        "history, Brevo lists through a sync). The address is kept only as a keyed hash, so it stays "
        "suppressed if it signs up again; campaign totals keep their counts. Cannot be undone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="The person's email address (any case).")

    def handle(self, *args: Any, email: str, **options: Any) -> None:
        if "@" not in email:
            raise CommandError(f"{email!r} is not an email address.")
        try:
            erasure = person_erase(email=email, by=None, via="command")
        except DomainError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self.style.SUCCESS(f"Erased; audit record {erasure.pk} keeps only the address's hash."))
