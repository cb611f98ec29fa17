"""Test sends: the campaign to a few addresses now, marked "[TEST]", outside the ledger."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from anymail.exceptions import AnymailRequestsAPIError
from django.conf import settings
from django.core.mail import get_connection

from accounts.models import User
from brevo import brevo_configured, send_refusal
from campaigns.models import Campaign, CampaignVariant
from campaigns.rendering import campaign_content, variant_value
from campaigns.services.sending.delivery import address_problem, brevo_message, local_message, personalise
from campaigns.services.sending.ledger import LedgerRow
from core.errors import InvalidInputError, UpstreamError

# Most test addresses per test send.
MAX_TEST_RECIPIENTS = 10


def campaign_send_test(
    *, campaign: Campaign, by: User, emails: Sequence[str], variant: CampaignVariant | None = None
) -> list[str]:
    """Send the campaign (as A/B `variant`, when given) now to up to 10 addresses, subject marked
    "[TEST]", with the caller's name and links; nothing goes to the ledger. Returns the addresses
    sent to."""
    addresses = list(dict.fromkeys(email.strip() for email in emails if email.strip()))
    if not addresses:
        raise InvalidInputError("Give at least one address.", field="emails")
    if len(addresses) > MAX_TEST_RECIPIENTS:
        raise InvalidInputError(f"At most {MAX_TEST_RECIPIENTS} addresses.", field="emails")
    for address in addresses:
        if address_problem(LedgerRow(0, by.pk, address, "", "")) is not None:
            raise InvalidInputError(f"Not a valid address: {address!r}.", field="emails")
    subject = variant_value(campaign, variant, "subject")
    content = campaign_content(campaign, variant=variant, subject=f"[TEST] {subject}")
    rows = [LedgerRow(0, by.pk, address, by.first_name, by.last_name) for address in addresses]
    try:
        if brevo_configured():
            with get_connection(timeout=settings.CAMPAIGN_SEND_TIMEOUT_SECONDS) as backend:
                message = brevo_message(campaign, content, rows, uuid.uuid4(), backend, variant)
                message.send()
        else:
            with get_connection() as backend:
                personals = personalise(campaign, rows)
                backend.send_messages(
                    [
                        local_message(campaign, content, row, personal, variant)
                        for row, personal in zip(rows, personals, strict=True)
                    ]
                )
    except AnymailRequestsAPIError as error:
        refusal = send_refusal(error)
        status = 503 if refusal.kind in ("transient", "rate_limited") else 502
        raise UpstreamError(f"The test message was not sent. {refusal.detail}", status_code=status) from error
    return addresses
