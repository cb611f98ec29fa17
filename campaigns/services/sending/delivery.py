"""Delivering a claimed batch: one Brevo request through Anymail (or the local mail backend),
its refusals handled as Brevo means them (`brevo.send_refusal`), each outcome written to the ledger."""

from __future__ import annotations

import logging
import random
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import formataddr, make_msgid

from anymail.exceptions import AnymailRequestsAPIError
from anymail.message import AnymailMessage
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.validators import validate_email

from brevo import SendRefusal, brevo_configured, send_refusal
from campaigns.content import (
    Personalisation,
    PreparedContent,
    Recipient,
    recipients_personalisation,
    sender_header,
)
from campaigns.models import Campaign, CampaignVariant
from campaigns.rendering import campaign_content, variant_value
from campaigns.services.sending.claims import Batch
from campaigns.services.sending.ending import campaign_fail, campaign_hold
from campaigns.services.sending.ledger import (
    LedgerRow,
    ledger_record_failed,
    ledger_record_sent,
    ledger_rekey,
    ledger_release,
    ledger_touch,
)
from campaigns.services.sending.pace import pace_refund

logger = logging.getLogger(__name__)

# Back-off between tries of one batch: 0.5 s, 1 s, 2 s ... with jitter, at most 8 s.
RETRY_BACKOFF_SECONDS = 0.5
RETRY_BACKOFF_MAX_SECONDS = 8.0
# Brevo's own check is this simple (one "@", a dot in the domain); Django's validator alone
# would let `user@localhost` through and Brevo would then refuse the whole batch.
_BREVO_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


@dataclass
class Outcome:
    sent: int = 0
    failed: int = 0
    # Seconds until a rate-limited batch may be tried again (the job gave up waiting).
    deferred_for: float | None = None
    # The batch stays claimed (5xx / timeouts beyond the job's tries): the watchdog takes over.
    abandoned: bool = False
    # Seconds spent per step (claim, build, send, http, ledger): logged per batch, read by bench/.
    timings: dict[str, float] = field(default_factory=dict)

    def add_time(self, step: str, seconds: float) -> None:
        self.timings[step] = self.timings.get(step, 0.0) + seconds

    def describe(self) -> str:
        steps = ", ".join(f"{step} {seconds * 1000:.1f} ms" for step, seconds in self.timings.items())
        return f"{self.sent} sent, {self.failed} failed; {steps}"

    def log_fields(self) -> dict[str, object]:
        """The outcome as keys of a structured log line (LOG_FORMAT=json)."""
        return {
            "sent": self.sent,
            "failed": self.failed,
            "deferred_for": self.deferred_for,
            "abandoned": self.abandoned,
            **{f"{step}_ms": round(seconds * 1000, 1) for step, seconds in self.timings.items()},
        }


def account_refusal_reason(refusal: SendRefusal) -> str:
    """Why an account-level refusal paused a campaign, in words staff can act on."""
    if refusal.status == 402:
        what = "the Brevo account has no email credits left"
    else:
        what = "Brevo does not allow this account or sender to send"
    return f"Paused: {what} ({refusal.detail}). Nothing was lost: resume once the account is fixed."


def address_problem(row: LedgerRow) -> str | None:
    if row.user_id is None:
        return "The user was deleted after sending began."
    try:
        validate_email(row.email)
    except ValidationError:
        return f"Invalid email address {row.email!r}."
    if not row.email.isascii() or not _BREVO_EMAIL.match(row.email):
        return f"Brevo cannot send to {row.email!r}."
    return None


def deliver(batch: Batch) -> Outcome:
    """Send one claimed batch (Brevo, or the local backend) and write each outcome to the ledger."""
    outcome = Outcome()
    sendable: list[LedgerRow] = []
    refused: list[tuple[int, str]] = []
    for row in batch.rows:
        problem = address_problem(row)
        if problem is None:
            sendable.append(row)
        else:
            refused.append((row.id, problem))
    if refused:
        failed = ledger_record_failed(batch.key, refused)
        outcome.failed += failed
        pace_refund(windows=batch.budget_windows, count=failed)
    if not sendable:
        return outcome
    batch.rows = sendable
    started = time.perf_counter()
    content = campaign_content(batch.campaign, variant=batch.variant)
    outcome.add_time("build", time.perf_counter() - started)
    if brevo_configured():
        _deliver_brevo(batch, content, outcome)
    else:
        _deliver_local(batch, content, outcome)
    return outcome


def sender(campaign: Campaign, variant: CampaignVariant | None = None) -> str:
    return sender_header(from_name=variant_value(campaign, variant, "from_name"), from_email=campaign.from_email)


def personalise(campaign: Campaign, rows: Sequence[LedgerRow]) -> list[Personalisation]:
    recipients = []
    for row in rows:
        # Rows without a user were refused before (`_address_problem`).
        assert row.user_id is not None
        recipients.append(Recipient(row.user_id, row.email, row.first_name, row.last_name))
    return recipients_personalisation(campaign_id=campaign.pk, recipients=recipients)


def brevo_message(
    campaign: Campaign,
    content: PreparedContent,
    rows: Sequence[LedgerRow],
    key: uuid.UUID,
    backend: BaseEmailBackend,
    variant: CampaignVariant | None = None,
) -> AnymailMessage:
    brevo = content.for_brevo()
    merge_data: dict[str, dict[str, str]] = {}
    merge_headers: dict[str, dict[str, str]] = {}
    recipients: list[str] = []
    for row, personal in zip(rows, personalise(campaign, rows), strict=True):
        merge_data[row.email] = personal.params
        merge_headers[row.email] = personal.headers
        name = f"{row.first_name} {row.last_name}".strip()
        recipients.append(formataddr((name, row.email)) if name else row.email)
    message = AnymailMessage(
        subject=brevo.subject,
        body=brevo.text,
        from_email=sender(campaign, variant),
        to=recipients,
        reply_to=[campaign.reply_to] if campaign.reply_to else None,
        # Brevo reads `headers.idempotencyKey`; Anymail copies extra headers into that object.
        headers={"idempotencyKey": str(key)},
        connection=backend,
    )
    message.attach_alternative(brevo.html, "text/html")
    # One message version per recipient (Anymail batch send), each with its params and headers.
    message.merge_data = merge_data
    message.merge_headers = merge_headers
    message.tags = [f"campaign-{campaign.pk}"]
    return message


def _deliver_brevo(batch: Batch, content: PreparedContent, outcome: Outcome) -> None:
    tries = 0
    waited = 0.0
    backend = get_connection(timeout=settings.CAMPAIGN_SEND_TIMEOUT_SECONDS)
    with backend:
        # requests measures each round trip to Brevo; the rest of "send" is Anymail's payload.
        backend.session.hooks["response"].append(  # type: ignore[attr-defined]
            lambda response, *args, **kwargs: outcome.add_time("http", response.elapsed.total_seconds())
        )
        while batch.rows:
            started = time.perf_counter()
            message = brevo_message(batch.campaign, content, batch.rows, batch.key, backend, batch.variant)
            sending_at = time.perf_counter()
            outcome.add_time("build", sending_at - started)
            try:
                message.send()
            except AnymailRequestsAPIError as error:
                refusal = send_refusal(error)
            else:
                recording_at = time.perf_counter()
                outcome.add_time("send", recording_at - sending_at)
                statuses = message.anymail_status.recipients
                accepted = [(row.id, statuses[row.email].message_id or "") for row in batch.rows]
                outcome.sent += ledger_record_sent(batch.campaign.pk, batch.key, accepted)
                outcome.add_time("ledger", time.perf_counter() - recording_at)
                return
            outcome.add_time("send", time.perf_counter() - sending_at)
            if refusal.kind == "duplicate":
                # Brevo already ran this batch (an earlier try's answer was lost) and does not
                # repeat the message ids: the recipients have it, the ids are unknown.
                accepted = [(row.id, "") for row in batch.rows]
                outcome.sent += ledger_record_sent(batch.campaign.pk, batch.key, accepted, note=refusal.detail)
                return
            if refusal.kind == "rate_limited":
                limit = settings.CAMPAIGN_RATE_LIMIT_MAX_WAIT_SECONDS
                if waited + refusal.reset_seconds > limit:
                    ledger_touch(batch.key, refusal.detail)
                    outcome.deferred_for = refusal.reset_seconds
                    return
                waited += refusal.reset_seconds
                time.sleep(refusal.reset_seconds)
                ledger_touch(batch.key)
                continue
            if refusal.kind == "transient":
                tries += 1
                if tries >= settings.CAMPAIGN_SEND_ATTEMPTS:
                    # Left claimed under its key: the watchdog retries it while Brevo honours
                    # the key, and marks it UNKNOWN after that.
                    ledger_touch(batch.key, refusal.detail)
                    outcome.abandoned = True
                    logger.warning(
                        "campaign %s batch %s left to the watchdog: %s", batch.campaign.pk, batch.key, refusal.detail
                    )
                    return
                time.sleep(
                    min(RETRY_BACKOFF_MAX_SECONDS, RETRY_BACKOFF_SECONDS * 2 ** (tries - 1)) * random.uniform(0.5, 1.0)
                )
                ledger_touch(batch.key, refusal.detail)
                continue
            if (
                refusal.kind == "recipient"
                and refusal.version_index is not None
                and refusal.version_index < len(batch.rows)
            ):
                bad = batch.rows[refusal.version_index]
                failed = ledger_record_failed(batch.key, [(bad.id, refusal.detail)])
                outcome.failed += failed
                pace_refund(windows=batch.budget_windows, count=failed)
                batch.rows = [row for row in batch.rows if row.id != bad.id]
                # Brevo refused the whole request, so nothing of it was sent: the others go again
                # under a new key (the old one may now be remembered by Brevo as used).
                batch.key = ledger_rekey(batch.key)
                tries = 0
                continue
            if refusal.kind == "account":
                campaign_hold(campaign_id=batch.campaign.pk, reason=account_refusal_reason(refusal))
                if tries or batch.retried:
                    # An earlier try under this key got no answer, so Brevo may have run it: the
                    # batch keeps its key for the watchdog (a duplicate answer if it ran, UNKNOWN
                    # once the key expires) and is never sent again under a new one.
                    ledger_touch(batch.key, refusal.detail)
                    outcome.abandoned = True
                    return
                # Brevo processed nothing: the rows wait, PENDING, for staff to resume the campaign.
                released = ledger_release(batch.key, f"Not sent yet: {refusal.detail}")
                pace_refund(windows=batch.budget_windows, count=released)
                return
            campaign_fail(campaign_id=batch.campaign.pk, reason=refusal.detail)
            failed = ledger_record_failed(batch.key, [(row.id, f"Not sent: {refusal.detail}") for row in batch.rows])
            outcome.failed += failed
            pace_refund(windows=batch.budget_windows, count=failed)
            return


def local_message(
    campaign: Campaign,
    content: PreparedContent,
    row: LedgerRow,
    personal: Personalisation,
    variant: CampaignVariant | None = None,
) -> EmailMultiAlternatives:
    """One recipient's message rendered here, for Django's mail backend (the outbox)."""
    rendered = content.render(personal.params)
    name = f"{row.first_name} {row.last_name}".strip()
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=sender(campaign, variant),
        to=[formataddr((name, row.email)) if name else row.email],
        reply_to=[campaign.reply_to] if campaign.reply_to else None,
        headers={**personal.headers, "Message-ID": make_msgid(domain="campaigns.local")},
    )
    message.attach_alternative(rendered.html, "text/html")
    return message


def _deliver_local(batch: Batch, content: PreparedContent, outcome: Outcome) -> None:
    personals = personalise(batch.campaign, batch.rows)
    messages = [
        local_message(batch.campaign, content, row, personal, batch.variant)
        for row, personal in zip(batch.rows, personals, strict=True)
    ]
    with get_connection() as backend:
        backend.send_messages(messages)
    message_ids = [
        (row.id, message.extra_headers["Message-ID"]) for row, message in zip(batch.rows, messages, strict=True)
    ]
    outcome.sent += ledger_record_sent(batch.campaign.pk, batch.key, message_ids)
