"""Batched, exactly-once sending: freeze the audience, claim batches, talk to Brevo, recover.

The ledger (`CampaignRecipient`) is the truth. A recipient is PENDING until a batch job claims
it (SENDING, with the batch's idempotency key), then SENT with Brevo's message id, FAILED with a
reason, CANCELLED, or UNKNOWN when Brevo may or may not have accepted it and its key has expired.

- One Brevo request per batch of up to CAMPAIGN_BATCH_SIZE recipients (one message version
  each), with one idempotency key per batch, reused for every retry of that batch: Brevo runs a
  request with a given key once (~30 minutes), so a retry after a lost answer cannot double.
- 429: wait for `x-sib-ratelimit-reset`, retry the same batch; never a recipient failure.
- 5xx, timeouts, dropped connections: retry with the same key and back-off, a few times; then
  the batch stays claimed and the watchdog retries it while the key is honoured, else UNKNOWN.
- A 400 naming one message version: that recipient FAILED, the rest resent under a new key
  (Brevo processed nothing, so a new key cannot double anything).
- Any other 4xx is about the campaign (sender, key, content): the campaign FAILS with the reason.

Without Brevo (no BREVO_API_KEY) the same batches are rendered here and handed to Django's mail
backend (the file outbox), one message per recipient.
"""

from __future__ import annotations

import logging
import random
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import formataddr, make_msgid
from typing import Any

import django_rq
from anymail.exceptions import AnymailRequestsAPIError
from anymail.message import AnymailMessage
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Exists, F, Min, OuterRef, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.models import User
from brevo import brevo_configured, send_refusal
from campaigns.content import (
    Personalisation,
    PreparedContent,
    Recipient,
    prepare_content,
    recipients_personalisation,
    sender_header,
)
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from campaigns.selectors import campaign_audience
from campaigns.services.lifecycle import campaign_fail
from campaigns.services.unsubscribe import DROPPED_AT_CLAIM, ledger_drop_unreachable
from core.errors import InvalidInputError, UpstreamError
from segments.selectors import reachable_users

logger = logging.getLogger(__name__)

# Back-off between tries of one batch: 0.5 s, 1 s, 2 s ... with jitter, at most 8 s.
RETRY_BACKOFF_SECONDS = 0.5
RETRY_BACKOFF_MAX_SECONDS = 8.0
# A snapshot this large refreshes the ledger's planner statistics at once (see campaign_start).
ANALYZE_AFTER_ROWS = 50_000
# Most test addresses per test send.
MAX_TEST_RECIPIENTS = 10
# Brevo's own check is this simple (one "@", a dot in the domain); Django's validator alone
# would let `user@localhost` through and Brevo would then refuse the whole batch.
_BREVO_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def _enqueue(function: str, *args: object, delay: float = 0.0) -> None:
    queue = django_rq.get_queue("default")
    if delay > 0:
        queue.enqueue_in(timedelta(seconds=delay), function, *args)
    else:
        queue.enqueue(function, *args)


# --- Freezing the audience ---------------------------------------------------------------------


def ledger_insert_audience(*, campaign: Campaign) -> int:
    """Copy the campaign's current audience into its ledger in one INSERT ... SELECT; members
    already there (same email, any case) are skipped. Returns the rows added."""
    values: dict[str, Any] = {
        "campaign": Value(campaign.pk),
        "user": F("pk"),
        "email": F("email"),
        "first_name": F("first_name"),
        "last_name": F("last_name"),
        "status": Value(RecipientStatus.PENDING.value),
    }
    columns, aliases = [], {}
    # Every NOT NULL column gets a value: model defaults are Python-side, not in the database,
    # so columns added later (tracking counters) are filled from their field default.
    for model_field in CampaignRecipient._meta.concrete_fields:
        if model_field.primary_key:
            continue
        if model_field.name in values:
            expression = values[model_field.name]
        elif model_field.null:
            continue
        else:
            expression = Value(model_field.get_default())
        column = str(model_field.column)
        alias = f"ledger_{column}"
        aliases[alias] = expression
        columns.append((column, alias))
    audience = campaign_audience(campaign=campaign).order_by().annotate(**aliases).values_list(*aliases)
    select_sql, params = audience.query.sql_with_params()
    table = connection.ops.quote_name(CampaignRecipient._meta.db_table)
    column_list = ", ".join(connection.ops.quote_name(column) for column, _ in columns)
    alias_list = ", ".join(connection.ops.quote_name(alias) for _, alias in columns)
    # `WHERE true` keeps SQLite's parser from reading ON CONFLICT as part of the SELECT.
    sql = (
        f"INSERT INTO {table} ({column_list}) SELECT {alias_list} FROM ({select_sql}) AS audience "  # noqa: S608
        "WHERE true ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = max(cursor.rowcount, 0)
    if inserted:
        Campaign.objects.filter(pk=campaign.pk).update(recipients_total=F("recipients_total") + inserted)
    return inserted


def campaign_start(*, campaign_id: int) -> int:
    """Freeze the audience if not done yet, then start the batch chains. Safe to run twice:
    the campaign row lock and `audience_frozen_at` let one run write the ledger."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or campaign.status not in (CampaignStatus.SENDING, CampaignStatus.PAUSED):
            return 0
        inserted = 0
        if campaign.audience_frozen_at is None:
            inserted = ledger_insert_audience(campaign=campaign)
            Campaign.objects.filter(pk=campaign_id).update(audience_frozen_at=timezone.now())
            logger.info("campaign %s: audience frozen, %s recipients", campaign_id, inserted)
            if not inserted and not CampaignRecipient.objects.filter(campaign_id=campaign_id).exists():
                # Everyone left the audience between the click and this job: a failure with
                # its reason, never a campaign "sent" to nobody.
                campaign_fail(
                    campaign_id=campaign_id,
                    reason="Not sent: nobody in the audience could be emailed when sending began.",
                )
                return 0
        status = campaign.status
    if inserted >= ANALYZE_AFTER_ROWS and connection.vendor == "postgresql":
        # A million fresh rows leave the planner's statistics describing a near-empty ledger,
        # and batch claims and updates then get plans that scan it whole. ANALYZE samples
        # ~30k rows (about a second) instead of waiting for autovacuum to notice.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(CampaignRecipient._meta.db_table)}")
    if status != CampaignStatus.SENDING:
        return 0
    chains = max(1, settings.CAMPAIGN_SEND_CONCURRENCY)
    for _ in range(chains):
        _enqueue("campaigns.jobs.campaign_send_batch", campaign_id, 0)
    campaign_finish_if_done(campaign_id=campaign_id)
    return chains


def campaign_finish_if_done(*, campaign_id: int) -> bool:
    """SENDING -> SENT once no recipient is pending or in flight; True for the call that did it."""
    open_rows = CampaignRecipient.objects.filter(
        campaign_id=OuterRef("pk"), status__in=[RecipientStatus.PENDING, RecipientStatus.SENDING]
    )
    now = timezone.now()
    finished = (
        Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING, audience_frozen_at__isnull=False)
        .exclude(Exists(open_rows))
        .update(status=CampaignStatus.SENT, sent_at=now, updated_at=now)
    )
    if finished:
        logger.info("campaign %s: sent", campaign_id)
    return bool(finished)


# --- Claiming a batch ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerRow:
    id: int
    user_id: int | None
    email: str
    first_name: str
    last_name: str


@dataclass
class Batch:
    campaign: Campaign
    key: uuid.UUID
    rows: list[LedgerRow]
    first_claimed_at: datetime | None = None
    claim_seconds: float = 0.0


_ROW_FIELDS = ("id", "user_id", "email", "first_name", "last_name")


def _batch_rows(key: uuid.UUID) -> list[LedgerRow]:
    rows = CampaignRecipient.objects.filter(batch_key=key, status=RecipientStatus.SENDING).order_by("id")
    return [LedgerRow(*values) for values in rows.values_list(*_ROW_FIELDS)]


def _claim(*, campaign_id: int, after_id: int) -> Batch | None:
    """Claim up to CAMPAIGN_BATCH_SIZE pending recipients under a new key, or None if the
    campaign is not SENDING (paused, cancelled: nothing is claimed after that)."""
    key = uuid.uuid4()
    now = timezone.now()
    started = time.perf_counter()
    with transaction.atomic():
        # The campaign row is updated (locked) first: a pause or cancel committed before this
        # point is seen, and one arriving now waits for this short transaction.
        if not Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING).update(last_claim_at=now):
            return None
        claim_window = _claim_window_postgresql if connection.vendor == "postgresql" else _claim_window_portable
        rows: list[LedgerRow] = []
        while not rows:
            # Whoever opted out or was suppressed since the audience was frozen is dropped at
            # claim, the last moment before Brevo; a window holding only such rows moves on.
            window_end, rows = claim_window(campaign_id=campaign_id, after_id=after_id, key=key, now=now)
            if window_end is None:
                break
            after_id = window_end
    campaign = Campaign.objects.get(pk=campaign_id)
    return Batch(
        campaign=campaign, key=key, rows=rows, first_claimed_at=now, claim_seconds=time.perf_counter() - started
    )


def _claim_window_portable(
    *, campaign_id: int, after_id: int, key: uuid.UUID, now: datetime
) -> tuple[int | None, list[LedgerRow]]:
    """Claim the reachable rows of the next window of pending rows after `after_id`; returns the
    window's last id (None when nothing is pending there) and the rows claimed, in id order."""
    window = list(
        CampaignRecipient.objects.select_for_update(skip_locked=True)
        .filter(campaign_id=campaign_id, status=RecipientStatus.PENDING, id__gt=after_id)
        .order_by("id")
        .values_list("id", flat=True)[: settings.CAMPAIGN_BATCH_SIZE]
    )
    if not window:
        return None, []
    ids = ledger_drop_unreachable(ids=window)
    if ids:
        # `status=PENDING` again: on databases without SKIP LOCKED (SQLite) two claimers may
        # read the same ids; only one of them changes each row.
        CampaignRecipient.objects.filter(id__in=ids, status=RecipientStatus.PENDING).update(
            status=RecipientStatus.SENDING,
            batch_key=key,
            claimed_at=now,
            attempted_at=now,
            attempts=F("attempts") + 1,
        )
    return window[-1], _batch_rows(key) if ids else []


def _claim_window_postgresql(
    *, campaign_id: int, after_id: int, key: uuid.UUID, now: datetime
) -> tuple[int | None, list[LedgerRow]]:
    """`_claim_window_portable` in one statement: lock the window (SKIP LOCKED), check each row's
    person with `reachable_users`, cancel the unreachable rows and claim the others, returning
    the claimed rows. Four round trips and three 1,000-id parameter lists fewer per batch."""
    table = connection.ops.quote_name(CampaignRecipient._meta.db_table)
    # The reachability rule is the selectors' own, compiled by the ORM (as ledger_drop_unreachable
    # applies it), so the claim cannot drift from the audience's definition.
    # Exists as a filter (a semi-join probing the users' primary key per row), not as a selected
    # column: PostgreSQL would hash every reachable user to answer that one.
    reachable = (
        CampaignRecipient.objects.filter(id__in=RawSQL("SELECT id FROM claim_window", ()))
        .filter(Exists(reachable_users(User.objects.filter(pk=OuterRef("user_id")))))
        .order_by()
        .values_list("id")
    )
    reachable_sql, reachable_params = reachable.query.sql_with_params()
    columns = ", ".join(f"r.{connection.ops.quote_name(name)}" for name in _ROW_FIELDS)
    sql = (
        f"WITH claim_window AS (SELECT id FROM {table} WHERE campaign_id = %s AND status = %s AND id > %s "  # noqa: S608
        "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED), "
        f"reachable (id) AS ({reachable_sql}), "
        f"dropped AS (UPDATE {table} AS r SET status = %s, last_error = %s FROM claim_window AS w "
        "WHERE r.id = w.id AND r.status = %s AND NOT EXISTS (SELECT 1 FROM reachable WHERE reachable.id = r.id) "
        "RETURNING r.id), "
        f"claimed AS (UPDATE {table} AS r SET status = %s, batch_key = %s, claimed_at = %s, attempted_at = %s, "
        "attempts = r.attempts + 1 FROM reachable WHERE r.id = reachable.id AND r.status = %s "
        f"RETURNING {columns}) "
        # One row even when nothing was claimed: it carries the window's end (NULL: no window).
        f"SELECT w.window_end, {', '.join(f'c.{connection.ops.quote_name(name)}' for name in _ROW_FIELDS)} "
        "FROM (SELECT max(id) AS window_end FROM claim_window) AS w LEFT JOIN claimed AS c ON true ORDER BY c.id"
    )
    params = [
        campaign_id,
        RecipientStatus.PENDING.value,
        after_id,
        settings.CAMPAIGN_BATCH_SIZE,
        *reachable_params,
        RecipientStatus.CANCELLED.value,
        DROPPED_AT_CLAIM,
        RecipientStatus.PENDING.value,
        RecipientStatus.SENDING.value,
        key,
        now,
        now,
        RecipientStatus.PENDING.value,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        result = cursor.fetchall()
    window_end = result[0][0]
    return window_end, [LedgerRow(*values[1:]) for values in result if values[1] is not None]


def campaign_send_batch(*, campaign_id: int, after_id: int = 0) -> int | None:
    """Claim and send one batch, then hand over to the next job of this chain.

    `after_id` is where the chain's previous batch ended: claims walk the ledger forward instead
    of rescanning index entries of rows already sent. A chain that finds nothing there looks
    once from the start (rows can be left behind by a claimer that rolled back), then ends.
    Returns the last id claimed, or None when the chain ended.
    """
    batch = _claim(campaign_id=campaign_id, after_id=after_id)
    if batch is None:
        return None
    if not batch.rows:
        if after_id:
            return campaign_send_batch(campaign_id=campaign_id, after_id=0)
        campaign_finish_if_done(campaign_id=campaign_id)
        return None
    outcome = deliver(batch)
    outcome.add_time("claim", batch.claim_seconds)
    logger.info("campaign %s batch %s: %s", campaign_id, batch.key, outcome.describe())
    last_id = batch.rows[-1].id
    if outcome.deferred_for is not None:
        # Rate limited for longer than a job should sleep: this batch, then the chain, resume later.
        _enqueue("campaigns.jobs.campaign_retry_batch", campaign_id, str(batch.key), True, delay=outcome.deferred_for)
        return last_id
    _enqueue("campaigns.jobs.campaign_send_batch", campaign_id, last_id)
    campaign_finish_if_done(campaign_id=campaign_id)
    return last_id


def campaign_retry_batch(*, campaign_id: int, batch_key: uuid.UUID, continue_chain: bool = False) -> int:
    """Send again a claimed batch whose outcome is not known, with its original key, while Brevo
    still honours the key; after that its recipients become UNKNOWN. Returns the rows handled."""
    first_claimed = CampaignRecipient.objects.filter(batch_key=batch_key, status=RecipientStatus.SENDING).aggregate(
        first=Min("claimed_at")
    )["first"]
    handled = 0
    if first_claimed is not None:
        if not brevo_configured() or first_claimed < timezone.now() - _window():
            handled = _mark_unknown(CampaignRecipient.objects.filter(batch_key=batch_key))
        else:
            CampaignRecipient.objects.filter(batch_key=batch_key, status=RecipientStatus.SENDING).update(
                attempted_at=timezone.now()
            )
            batch = Batch(
                campaign=Campaign.objects.get(pk=campaign_id),
                key=batch_key,
                rows=_batch_rows(batch_key),
                first_claimed_at=first_claimed,
            )
            handled = len(batch.rows)
            outcome = deliver(batch)
            if outcome.deferred_for is not None:
                _enqueue(
                    "campaigns.jobs.campaign_retry_batch",
                    campaign_id,
                    str(batch_key),
                    continue_chain,
                    delay=outcome.deferred_for,
                )
                return handled
    if continue_chain:
        _enqueue("campaigns.jobs.campaign_send_batch", campaign_id, 0)
    campaign_finish_if_done(campaign_id=campaign_id)
    return handled


def _window() -> timedelta:
    return timedelta(seconds=settings.CAMPAIGN_IDEMPOTENCY_WINDOW_SECONDS)


def _mark_unknown(rows: QuerySet[CampaignRecipient]) -> int:
    """Rows in flight whose outcome can no longer be learnt: UNKNOWN, for an operator to decide."""
    if brevo_configured():
        reason = "No answer from Brevo and its idempotency key has expired: it may or may not have been sent."
    else:
        reason = "The outbox write was interrupted: it may or may not have been written."
    return rows.filter(status=RecipientStatus.SENDING).update(status=RecipientStatus.UNKNOWN, last_error=reason)


# --- Delivering a batch --------------------------------------------------------------------------


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


def _address_problem(row: LedgerRow) -> str | None:
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
        problem = _address_problem(row)
        if problem is None:
            sendable.append(row)
        else:
            refused.append((row.id, problem))
    if refused:
        outcome.failed += _record_failed(batch.key, refused)
    if not sendable:
        return outcome
    batch.rows = sendable
    started = time.perf_counter()
    content = prepare_content(
        subject=batch.campaign.subject,
        preheader=batch.campaign.preheader,
        body_html=batch.campaign.body_html,
        body_text=batch.campaign.body_text,
    )
    outcome.add_time("build", time.perf_counter() - started)
    if brevo_configured():
        _deliver_brevo(batch, content, outcome)
    else:
        _deliver_local(batch, content, outcome)
    return outcome


def _sender(campaign: Campaign) -> str:
    return sender_header(from_name=campaign.from_name, from_email=campaign.from_email)


def _personalise(campaign: Campaign, rows: Sequence[LedgerRow]) -> list[Personalisation]:
    recipients = []
    for row in rows:
        # Rows without a user were refused before (`_address_problem`).
        assert row.user_id is not None
        recipients.append(Recipient(row.user_id, row.email, row.first_name, row.last_name))
    return recipients_personalisation(campaign_id=campaign.pk, recipients=recipients)


def _brevo_message(
    campaign: Campaign, content: PreparedContent, rows: Sequence[LedgerRow], key: uuid.UUID, backend: BaseEmailBackend
) -> AnymailMessage:
    brevo = content.for_brevo()
    merge_data: dict[str, dict[str, str]] = {}
    merge_headers: dict[str, dict[str, str]] = {}
    recipients: list[str] = []
    for row, personal in zip(rows, _personalise(campaign, rows), strict=True):
        merge_data[row.email] = personal.params
        merge_headers[row.email] = personal.headers
        name = f"{row.first_name} {row.last_name}".strip()
        recipients.append(formataddr((name, row.email)) if name else row.email)
    message = AnymailMessage(
        subject=brevo.subject,
        body=brevo.text,
        from_email=_sender(campaign),
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
            message = _brevo_message(batch.campaign, content, batch.rows, batch.key, backend)
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
                outcome.sent += _record_sent(batch.campaign.pk, batch.key, accepted)
                outcome.add_time("ledger", time.perf_counter() - recording_at)
                return
            outcome.add_time("send", time.perf_counter() - sending_at)
            if refusal.kind == "duplicate":
                # Brevo already ran this batch (an earlier try's answer was lost) and does not
                # repeat the message ids: the recipients have it, the ids are unknown.
                accepted = [(row.id, "") for row in batch.rows]
                outcome.sent += _record_sent(batch.campaign.pk, batch.key, accepted, note=refusal.detail)
                return
            if refusal.kind == "rate_limited":
                limit = settings.CAMPAIGN_RATE_LIMIT_MAX_WAIT_SECONDS
                if waited + refusal.reset_seconds > limit:
                    _touch(batch.key, refusal.detail)
                    outcome.deferred_for = refusal.reset_seconds
                    return
                waited += refusal.reset_seconds
                time.sleep(refusal.reset_seconds)
                _touch(batch.key)
                continue
            if refusal.kind == "transient":
                tries += 1
                if tries >= settings.CAMPAIGN_SEND_ATTEMPTS:
                    # Left claimed under its key: the watchdog retries it while Brevo honours
                    # the key, and marks it UNKNOWN after that.
                    _touch(batch.key, refusal.detail)
                    outcome.abandoned = True
                    logger.warning(
                        "campaign %s batch %s left to the watchdog: %s", batch.campaign.pk, batch.key, refusal.detail
                    )
                    return
                time.sleep(
                    min(RETRY_BACKOFF_MAX_SECONDS, RETRY_BACKOFF_SECONDS * 2 ** (tries - 1)) * random.uniform(0.5, 1.0)
                )
                _touch(batch.key, refusal.detail)
                continue
            if (
                refusal.kind == "recipient"
                and refusal.version_index is not None
                and refusal.version_index < len(batch.rows)
            ):
                bad = batch.rows[refusal.version_index]
                outcome.failed += _record_failed(batch.key, [(bad.id, refusal.detail)])
                batch.rows = [row for row in batch.rows if row.id != bad.id]
                # Brevo refused the whole request, so nothing of it was sent: the others go again
                # under a new key (the old one may now be remembered by Brevo as used).
                batch.key = _rekey(batch.key)
                tries = 0
                continue
            campaign_fail(campaign_id=batch.campaign.pk, reason=refusal.detail)
            outcome.failed += _record_failed(batch.key, [(row.id, f"Not sent: {refusal.detail}") for row in batch.rows])
            return


def _local_message(
    campaign: Campaign, content: PreparedContent, row: LedgerRow, personal: Personalisation
) -> EmailMultiAlternatives:
    """One recipient's message rendered here, for Django's mail backend (the outbox)."""
    rendered = content.render(personal.params)
    name = f"{row.first_name} {row.last_name}".strip()
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=_sender(campaign),
        to=[formataddr((name, row.email)) if name else row.email],
        reply_to=[campaign.reply_to] if campaign.reply_to else None,
        headers={**personal.headers, "Message-ID": make_msgid(domain="campaigns.local")},
    )
    message.attach_alternative(rendered.html, "text/html")
    return message


def _deliver_local(batch: Batch, content: PreparedContent, outcome: Outcome) -> None:
    personals = _personalise(batch.campaign, batch.rows)
    messages = [
        _local_message(batch.campaign, content, row, personal)
        for row, personal in zip(batch.rows, personals, strict=True)
    ]
    with get_connection() as backend:
        backend.send_messages(messages)
    message_ids = [
        (row.id, message.extra_headers["Message-ID"]) for row, message in zip(batch.rows, messages, strict=True)
    ]
    outcome.sent += _record_sent(batch.campaign.pk, batch.key, message_ids)


# --- Ledger writes -------------------------------------------------------------------------------


def _touch(key: uuid.UUID, error: str = "") -> None:
    """The batch is being worked on (so the watchdog leaves it alone); remember the last error."""
    changes: dict[str, Any] = {"attempted_at": timezone.now()}
    if error:
        changes["last_error"] = error
    CampaignRecipient.objects.filter(batch_key=key, status=RecipientStatus.SENDING).update(**changes)


def _rekey(key: uuid.UUID) -> uuid.UUID:
    new_key = uuid.uuid4()
    now = timezone.now()
    CampaignRecipient.objects.filter(batch_key=key, status=RecipientStatus.SENDING).update(
        batch_key=new_key, claimed_at=now, attempted_at=now
    )
    return new_key


def _record_failed(key: uuid.UUID, failures: Sequence[tuple[int, str]]) -> int:
    count = 0
    with transaction.atomic():
        for row_id, reason in failures:
            count += CampaignRecipient.objects.filter(id=row_id, batch_key=key, status=RecipientStatus.SENDING).update(
                status=RecipientStatus.FAILED, last_error=reason[:2000]
            )
    return count


def _record_sent(campaign_id: int, key: uuid.UUID, accepted: Sequence[tuple[int, str]], note: str = "") -> int:
    """Mark the batch SENT with each message id and count it on the campaign, in one transaction.

    Only rows still SENDING under this key change, so a batch recorded twice (two jobs, a
    watchdog retry) counts once.
    """
    now = timezone.now()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            table = connection.ops.quote_name(CampaignRecipient._meta.db_table)
            with connection.cursor() as cursor:
                # One statement for the whole batch: ids and message ids travel as two arrays.
                cursor.execute(
                    f"UPDATE {table} AS r SET status = %s, message_id = v.message_id, sent_at = %s, "  # noqa: S608
                    "last_error = %s FROM unnest(%s::bigint[], %s::text[]) AS v(id, message_id) "
                    "WHERE r.id = v.id AND r.batch_key = %s AND r.status = %s",
                    [
                        RecipientStatus.SENT.value,
                        now,
                        note,
                        [row_id for row_id, _ in accepted],
                        [message_id for _, message_id in accepted],
                        key,
                        RecipientStatus.SENDING.value,
                    ],
                )
                count = cursor.rowcount
        else:
            count = 0
            for row_id, message_id in accepted:
                count += CampaignRecipient.objects.filter(
                    id=row_id, batch_key=key, status=RecipientStatus.SENDING
                ).update(status=RecipientStatus.SENT, message_id=message_id, sent_at=now, last_error=note)
        if count:
            Campaign.objects.filter(pk=campaign_id).update(recipient_count=F("recipient_count") + count)
    return count


# --- Watchdog ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WatchdogReport:
    retried_batches: int
    unknown_recipients: int
    restarted_campaigns: list[int]
    finished_campaigns: list[int]


# Batches taken over per run: a minute's work for a few workers; the rest wait for the next run.
WATCHDOG_MAX_BATCHES = 200


def campaigns_watchdog(*, now: datetime | None = None) -> WatchdogReport:
    """Recover from lost jobs (worker killed, Redis flushed). Every minute, from the cron:

    - batches claimed but not attempted for CAMPAIGN_STALE_SECONDS are retried with their key
      while Brevo honours it, else their recipients become UNKNOWN (never resent blindly);
    - SENDING campaigns with no claim for that long get their start job again (which freezes
      the audience if that never happened, and restarts the chains);
    - SENDING campaigns with nothing left to send are marked SENT.
    """
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.CAMPAIGN_STALE_SECONDS)
    window_start = now - _window()
    stuck = (
        CampaignRecipient.objects.filter(status=RecipientStatus.SENDING, attempted_at__lt=stale_before)
        .values("campaign_id", "batch_key")
        .annotate(first_claimed=Min("claimed_at"))
        .order_by("first_claimed")[:WATCHDOG_MAX_BATCHES]
    )
    retried = unknown = 0
    for entry in list(stuck):
        key, campaign_id = entry["batch_key"], entry["campaign_id"]
        rows = CampaignRecipient.objects.filter(
            batch_key=key, status=RecipientStatus.SENDING, attempted_at__lt=stale_before
        )
        if brevo_configured() and entry["first_claimed"] is not None and entry["first_claimed"] >= window_start:
            # Taking the batch over is itself conditional: two watchdogs cannot both retry it.
            if rows.update(attempted_at=now):
                _enqueue("campaigns.jobs.campaign_retry_batch", campaign_id, str(key), False)
                retried += 1
        else:
            unknown += _mark_unknown(rows)
    quiet = Campaign.objects.filter(status=CampaignStatus.SENDING).filter(
        Q(last_claim_at__isnull=True) | Q(last_claim_at__lt=stale_before)
    )
    restarted = []
    for campaign_id in list(quiet.values_list("pk", flat=True)):
        if campaign_finish_if_done(campaign_id=campaign_id):
            continue
        woke = Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING).filter(
            Q(last_claim_at__isnull=True) | Q(last_claim_at__lt=stale_before)
        )
        if woke.update(last_claim_at=now):
            _enqueue("campaigns.jobs.campaign_start", campaign_id)
            restarted.append(campaign_id)
    finished = [
        campaign_id
        for campaign_id in list(Campaign.objects.filter(status=CampaignStatus.SENDING).values_list("pk", flat=True))
        if campaign_finish_if_done(campaign_id=campaign_id)
    ]
    return WatchdogReport(
        retried_batches=retried, unknown_recipients=unknown, restarted_campaigns=restarted, finished_campaigns=finished
    )


# --- Test sends ----------------------------------------------------------------------------------


def campaign_send_test(*, campaign: Campaign, by: User, emails: Sequence[str]) -> list[str]:
    """Send the campaign now to up to 10 addresses, subject marked "[TEST]", with the caller's
    name and links; nothing goes to the ledger. Returns the addresses sent to."""
    addresses = list(dict.fromkeys(email.strip() for email in emails if email.strip()))
    if not addresses:
        raise InvalidInputError("Give at least one address.", field="emails")
    if len(addresses) > MAX_TEST_RECIPIENTS:
        raise InvalidInputError(f"At most {MAX_TEST_RECIPIENTS} addresses.", field="emails")
    for address in addresses:
        if _address_problem(LedgerRow(0, by.pk, address, "", "")) is not None:
            raise InvalidInputError(f"Not a valid address: {address!r}.", field="emails")
    content = prepare_content(
        subject=f"[TEST] {campaign.subject}",
        preheader=campaign.preheader,
        body_html=campaign.body_html,
        body_text=campaign.body_text,
    )
    rows = [LedgerRow(0, by.pk, address, by.first_name, by.last_name) for address in addresses]
    try:
        if brevo_configured():
            with get_connection(timeout=settings.CAMPAIGN_SEND_TIMEOUT_SECONDS) as backend:
                message = _brevo_message(campaign, content, rows, uuid.uuid4(), backend)
                message.send()
        else:
            with get_connection() as backend:
                personals = _personalise(campaign, rows)
                backend.send_messages(
                    [
                        _local_message(campaign, content, row, personal)
                        for row, personal in zip(rows, personals, strict=True)
                    ]
                )
    except AnymailRequestsAPIError as error:
        refusal = send_refusal(error)
        status = 503 if refusal.kind in ("transient", "rate_limited") else 502
        raise UpstreamError(f"The test message was not sent. {refusal.detail}", status_code=status) from error
    return addresses
