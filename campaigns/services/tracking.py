"""Brevo's tracking events, once stored (`campaigns.services.tracking_intake`): applied to the
ledger and the suppressions.

Processing runs in batches: it locks a batch of stored events (SKIP LOCKED, so workers share
the queue), matches them to ledger rows by message id, and writes the results with a handful
of bulk statements. If a batch fails, each of its events is retried alone in a savepoint, so
one bad event is marked FAILED and cannot hold back the others; nothing is ever deleted.

Reference: https://developers.brevo.com/docs/transactional-webhooks and Anymail's
`webhooks/brevo.py` (the event names below are Brevo's own, kept in `TrackingEvent.esp_event`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Model, Q
from django.utils import timezone

from accounts.models import OptOutMethod, Suppression, SuppressionReason, User
from accounts.selectors import erased_addresses
from accounts.services import suppressions_add_many, user_opt_out
from campaigns.models import (
    MAX_TRACKING_ATTEMPTS,
    CampaignRecipient,
    TrackingEvent,
    TrackingEventStatus,
)

logger = logging.getLogger(__name__)

# Events handled per transaction. Each batch holds its events and their ledger rows in memory
# and locks them until commit: 500 keeps a batch well under a second and a few MB.
PROCESS_BATCH_SIZE = 500

# Brevo event -> the ledger field that records its first time.
FIRST_TIME_FIELDS = {
    "delivered": "delivered_at",
    "soft_bounce": "soft_bounced_at",
    "hard_bounce": "hard_bounced_at",
    "invalid_email": "hard_bounced_at",
    "blocked": "blocked_at",
    "spam": "complained_at",
    "complaint": "complained_at",
    "unsubscribe": "unsubscribed_at",
}
# Brevo reports a first open as unique_opened and later ones as opened. Opens fetched by a proxy
# (Apple Mail Privacy Protection and the like load every image, read or not) come as the proxy
# variants: they are kept apart as machine opens and never count as engagement.
HUMAN_OPEN_EVENTS = frozenset({"opened", "unique_opened"})
MACHINE_OPEN_EVENTS = frozenset({"proxy_open", "unique_proxy_open"})
CLICK_EVENTS = frozenset({"click"})
# Brevo event -> why the address may never be mailed again.
SUPPRESSING_EVENTS = {
    "hard_bounce": SuppressionReason.HARD_BOUNCE,
    "invalid_email": SuppressionReason.HARD_BOUNCE,
    "blocked": SuppressionReason.BLOCKED,
    "spam": SuppressionReason.COMPLAINT,
    "complaint": SuppressionReason.COMPLAINT,
    "unsubscribe": SuppressionReason.UNSUBSCRIBE,
}
UNSUBSCRIBE_EVENTS = frozenset({"unsubscribe"})

_LEDGER_FIELDS = (
    "id",
    "campaign_id",
    "user_id",
    "email",
    "message_id",
    *sorted(set(FIRST_TIME_FIELDS.values())),
    "first_opened_at",
    "open_count",
    "first_machine_opened_at",
    "machine_open_count",
    "first_clicked_at",
    "click_count",
    "last_engaged_at",
)


@dataclass
class ProcessResult:
    processed: int = 0
    unmatched: int = 0
    failed: int = 0
    # Campaigns whose ledger the processed events reached, for the log line of a burst.
    campaign_ids: set[int] = field(default_factory=set)

    @property
    def total(self) -> int:
        return self.processed + self.unmatched + self.failed

    def add(self, other: ProcessResult) -> None:
        self.processed += other.processed
        self.unmatched += other.unmatched
        self.failed += other.failed
        self.campaign_ids |= other.campaign_ids

    def log_fields(self) -> dict[str, object]:
        """The counts and campaign ids as keys of a structured log line (LOG_FORMAT=json)."""
        return {
            "processed": self.processed,
            "unmatched": self.unmatched,
            "failed": self.failed,
            "campaign_ids": sorted(self.campaign_ids),
        }


def tracking_events_process(*, retry: bool = False, limit: int = PROCESS_BATCH_SIZE) -> ProcessResult:
    """Process one batch of stored events; `retry` also takes FAILED and UNMATCHED ones back."""
    result = ProcessResult()
    with transaction.atomic():
        todo = Q(status=TrackingEventStatus.PENDING)
        if retry:
            todo |= Q(
                status__in=[TrackingEventStatus.FAILED, TrackingEventStatus.UNMATCHED],
                attempts__lt=MAX_TRACKING_ATTEMPTS,
            )
        events = list(TrackingEvent.objects.filter(todo).order_by("id").select_for_update(skip_locked=True)[:limit])
        if not events:
            return result
        try:
            with transaction.atomic():
                _apply(events, result)
        except Exception:
            logger.exception("Tracking batch of %d events failed; retrying them one by one", len(events))
            result = ProcessResult()
            for event in events:
                _apply_alone(event.pk, result)
    return result


def tracking_events_process_pending(*, max_batches: int | None = None) -> ProcessResult:
    """Process stored events batch after batch until none is waiting (or `max_batches` ran)."""
    total = ProcessResult()
    batches = 0
    while max_batches is None or batches < max_batches:
        result = tracking_events_process()
        batches += 1
        total.add(result)
        if result.total < PROCESS_BATCH_SIZE:
            break
    return total


def tracking_events_retry() -> ProcessResult:
    """The safety net: events left PENDING, plus FAILED / UNMATCHED ones with attempts left.

    An event can arrive before its batch has recorded the message ids, so an unknown id is
    tried again a few times before it is left UNMATCHED for good (and shown in the admin).
    """
    total = ProcessResult()
    while True:
        result = tracking_events_process(retry=True)
        total.add(result)
        if result.total < PROCESS_BATCH_SIZE:
            return total


def tracking_events_reprocess(*, ids: Iterable[int]) -> int:
    """Put FAILED or UNMATCHED events back in the queue with fresh attempts (staff, after a fix
    or a late ledger write); returns how many. The caller schedules processing."""
    return TrackingEvent.objects.filter(
        pk__in=list(ids), status__in=[TrackingEventStatus.FAILED, TrackingEventStatus.UNMATCHED]
    ).update(status=TrackingEventStatus.PENDING, attempts=0, error="")


def _apply_alone(event_id: int, result: ProcessResult) -> None:
    # Re-read: the failed batch changed the in-memory copy (attempts, status) before it failed.
    event = TrackingEvent.objects.get(pk=event_id)
    try:
        with transaction.atomic():
            _apply([event], result)
    except Exception as exc:
        logger.exception("Tracking event %s could not be processed", event_id)
        TrackingEvent.objects.filter(pk=event_id).update(
            status=TrackingEventStatus.FAILED,
            attempts=F("attempts") + 1,
            error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        result.failed += 1


def _apply(events: Sequence[TrackingEvent], result: ProcessResult) -> None:
    now = timezone.now()
    ledger = _ledger_rows(event.message_id for event in events)
    changed: dict[int, set[str]] = {}
    suppressions: dict[str, Suppression] = {}
    opt_outs: list[tuple[TrackingEvent, CampaignRecipient | None]] = []
    processed = unmatched = 0
    campaign_ids: set[int] = set()
    erased = erased_addresses(event.email for event in events)

    for event in events:
        event.attempts += 1
        event.error = ""
        event.processed_at = now
        at = event.occurred_at or event.received_at
        row = _pick(ledger.get(event.message_id, []), event.email)
        if row is None:
            event.status = TrackingEventStatus.UNMATCHED
            unmatched += 1
        else:
            event.status = TrackingEventStatus.PROCESSED
            event.recipient_id = row.pk
            event.campaign_id = row.campaign_id
            changed.setdefault(row.pk, set()).update(_record(row, event.esp_event, at))
            campaign_ids.add(row.campaign_id)
            processed += 1
        email = (event.email or (row.email if row else "")).strip().lower()
        if email in erased:
            # Late news about a person erased on request: counted on their scrubbed ledger row,
            # but their address is not kept, nor suppressed in plain (its hash suppresses it).
            event.email, event.payload = "", {}
            continue
        reason = SUPPRESSING_EVENTS.get(event.esp_event)
        # The address suppresses whether or not the message was ours to match: a hard bounce on
        # any mail from this Brevo account says the same thing about the address.
        if reason is not None and email and email not in suppressions:
            suppressions[email] = Suppression(
                email=email, reason=reason, source=f"brevo:{event.esp_event}", created_at=at
            )
        if event.esp_event in UNSUBSCRIBE_EVENTS:
            opt_outs.append((event, row))

    rows_by_id = {row.pk: row for rows in ledger.values() for row in rows}
    changed_fields = sorted(set().union(*changed.values())) if changed else []
    if changed_fields:
        # The rows are locked, so writing the values computed here cannot lose a concurrent
        # increment; one UPDATE per batch instead of one per event.
        _bulk_write(
            CampaignRecipient, [rows_by_id[row_id] for row_id, fields in changed.items() if fields], changed_fields
        )
    if suppressions:
        suppressions_add_many(entries=suppressions.values())
    for event, row in opt_outs:
        _opt_out(event, row)
    written = ["status", "attempts", "error", "processed_at", "recipient", "campaign"]
    _bulk_write(TrackingEvent, events, [*written, "email", "payload"] if erased else written)
    result.processed += processed
    result.unmatched += unmatched
    result.campaign_ids |= campaign_ids


def _ledger_rows(message_ids: Iterable[str]) -> dict[str, list[CampaignRecipient]]:
    ids = sorted({message_id for message_id in message_ids if message_id})
    rows: dict[str, list[CampaignRecipient]] = {}
    if not ids:
        return rows
    # Locked in id order, so two batches touching the same rows queue up instead of deadlocking.
    for row in (
        CampaignRecipient.objects.filter(message_id__in=ids).only(*_LEDGER_FIELDS).order_by("id").select_for_update()
    ):
        rows.setdefault(row.message_id, []).append(row)
    return rows


def _pick(rows: list[CampaignRecipient], email: str) -> CampaignRecipient | None:
    if len(rows) <= 1:
        return rows[0] if rows else None
    # A message id shared by several recipients (one version with several addresses).
    wanted = email.strip().lower()
    return next((row for row in rows if row.email.lower() == wanted), None)


def _record(row: CampaignRecipient, esp_event: str, at: datetime) -> set[str]:
    """Apply one event to a ledger row in memory; returns the fields it changed."""
    fields: set[str] = set()
    first_field = FIRST_TIME_FIELDS.get(esp_event)
    if esp_event in MACHINE_OPEN_EVENTS:
        first_field = "first_machine_opened_at"
        row.machine_open_count += 1
        fields.add("machine_open_count")
    elif esp_event in HUMAN_OPEN_EVENTS:
        first_field = "first_opened_at"
        row.open_count += 1
        fields.add("open_count")
        fields |= _engaged(row, at)
    elif esp_event in CLICK_EVENTS:
        first_field = "first_clicked_at"
        row.click_count += 1
        fields.add("click_count")
        # A click proves a person opened the message, even with images blocked.
        if row.first_opened_at is None or at < row.first_opened_at:
            row.first_opened_at = at
            fields.add("first_opened_at")
        fields |= _engaged(row, at)
    if first_field is not None:
        current = getattr(row, first_field)
        # Events can arrive out of order: keep the earliest time.
        if current is None or at < current:
            setattr(row, first_field, at)
            fields.add(first_field)
    return fields


def _engaged(row: CampaignRecipient, at: datetime) -> set[str]:
    """A human open or click at `at`: keep the latest such time."""
    if row.last_engaged_at is None or at > row.last_engaged_at:
        row.last_engaged_at = at
        return {"last_engaged_at"}
    return set()


def _opt_out(event: TrackingEvent, row: CampaignRecipient | None) -> None:
    """Brevo's own unsubscribe ends where our link does: the user is opted out."""
    user: User | None = None
    if row is not None and row.user_id is not None:
        user = User.objects.filter(pk=row.user_id).first()
    if user is None and event.email:
        user = User.objects.filter(email__iexact=event.email.strip()).first()
    if user is None:
        return
    user_opt_out(
        user=user,
        campaign_id=row.campaign_id if row is not None else None,
        method=OptOutMethod.BREVO,
        at=event.occurred_at or event.received_at,
    )


def _bulk_write(model: type[Model], objects: Sequence[Model], field_names: Sequence[str]) -> None:
    """Write `field_names` of `objects` back in one statement.

    On PostgreSQL that is `UPDATE ... FROM (VALUES ...)`, planned in microseconds; Django's
    `bulk_update` builds a CASE per field and row in Python, which was most of this module's CPU
    time. Other databases (SQLite in development and tests) use `bulk_update`.
    """
    if not objects:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(objects, field_names)
        return
    meta = model._meta
    primary_key = meta.pk
    assert primary_key is not None
    fields = [field for field in meta.concrete_fields if field.name in field_names]
    quote = connection.ops.quote_name
    # Each value is cast to its column type: parameters reach PostgreSQL untyped.
    casts = [primary_key.db_type(connection), *(field.db_type(connection) for field in fields)]
    row = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
    assignments = ", ".join(f"{quote(str(field.column))} = v.column{index}" for index, field in enumerate(fields, 2))
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "  # noqa: S608
        f"FROM (VALUES {', '.join([row] * len(objects))}) AS v WHERE t.{quote(str(primary_key.column))} = v.column1"
    )
    params: list[Any] = []
    for obj in objects:
        params.append(obj.pk)
        params.extend(field.get_db_prep_save(getattr(obj, field.attname), connection) for field in fields)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
