"""Brevo's tracking events as they arrive: stored first, in one statement per delivery.

Brevo drops an event when our endpoint answers 5xx (or any 4xx but 429) and retries only a few
times, so the webhook does as little as possible before it answers: one
`INSERT ... VALUES (...), (...) ON CONFLICT (dedup_key) DO NOTHING` for every event of the
request (one event, or a batch of up to 500 when the webhook is created with `batched: true`),
keyed by a digest of each event so a repeat delivery is a no-op. Processing happens later, in
`campaigns.services.tracking`.

References: https://developers.brevo.com/docs/transactional-webhooks,
https://developers.brevo.com/docs/batch-webhooks, https://developers.brevo.com/docs/retry-mechanism.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from campaigns.models import TrackingEvent, TrackingEventStatus


@dataclass(frozen=True)
class IncomingEvent:
    """What the webhook hands over: Anymail's normalised fields plus Brevo's raw payload."""

    event_type: str
    message_id: str | None
    recipient: str | None
    timestamp: datetime | None
    click_url: str | None
    mta_response: str | None
    payload: dict[str, Any]


def tracking_dedup_key(event: IncomingEvent) -> str:
    """The identity of an event across Brevo's repeat deliveries: message id, event, time, link.

    Brevo gives no event id. Its `ts_epoch` (milliseconds) comes with every tracking event; the
    recipient and link are added because one message id may cover several recipients and one
    person may click two links in the same millisecond. Without a timestamp the whole payload
    is the identity.
    """
    payload = event.payload
    stamp = payload.get("ts_epoch") or payload.get("ts_event") or payload.get("ts")
    if stamp is None:
        material = json.dumps(payload, sort_keys=True, default=str)
    else:
        parts = (
            event.message_id or "",
            str(payload.get("event") or event.event_type),
            str(stamp),
            (event.recipient or "").lower(),
            event.click_url or "",
        )
        material = "\x1f".join(parts)
    return hashlib.sha256(material.encode()).hexdigest()


# Written by the webhook; the other columns are NULL until processing fills them.
_STORED_FIELDS = (
    "dedup_key",
    "esp_event",
    "event_type",
    "message_id",
    "email",
    "link",
    "reason",
    "occurred_at",
    "received_at",
    "payload",
    "status",
    "attempts",
    "error",
)


def tracking_events_store(*, events: Sequence[IncomingEvent]) -> int:
    """Store the events of one webhook delivery as received; returns how many were new.

    All or nothing: on PostgreSQL one `INSERT ... ON CONFLICT (dedup_key) DO NOTHING` in
    autocommit, so a repeat delivery (or a repeat inside the batch) is absorbed without an error,
    a savepoint, or BEGIN and COMMIT round trips; databases with a parameter limit (SQLite) get
    several such statements in one transaction. When this returns, every event is committed.
    """
    operations = connection.ops
    received_at = operations.adapt_datetimefield_value(timezone.now())
    rows: dict[str, list[Any]] = {}
    for event in events:
        key = tracking_dedup_key(event)
        values = {
            "dedup_key": key,
            "esp_event": str(event.payload.get("event") or event.event_type)[:32],
            "event_type": event.event_type[:16],
            "message_id": (event.message_id or "")[:255],
            "email": (event.recipient or "")[:254],
            "link": event.click_url or "",
            "reason": event.mta_response or "",
            "occurred_at": operations.adapt_datetimefield_value(event.timestamp),
            "received_at": received_at,
            "payload": operations.adapt_json_value(event.payload, None),
            "status": TrackingEventStatus.PENDING.value,
            "attempts": 0,
            "error": "",
        }
        rows.setdefault(key, [values[field.name] for field in _stored_fields()])
    if not rows:
        return 0
    # Rows go in in key order: two deliveries of overlapping batches at once then wait on each
    # other's keys in the same order instead of deadlocking.
    ordered = [rows[key] for key in sorted(rows)]
    per_statement = _rows_per_statement()
    stored = 0
    # One statement commits by itself in autocommit; `atomic` would add two round trips.
    with transaction.atomic() if len(ordered) > per_statement else contextlib.nullcontext():
        for start in range(0, len(ordered), per_statement):
            chunk = ordered[start : start + per_statement]
            with connection.cursor() as cursor:
                cursor.execute(_insert_sql(len(chunk)), [value for row in chunk for value in row])
                stored += max(cursor.rowcount, 0)
    return stored


def _rows_per_statement() -> int:
    limit = connection.features.max_query_params
    return limit // len(_STORED_FIELDS) if limit else 1_000_000


@functools.cache
def _stored_fields() -> list[Field[Any, Any]]:
    return [field for field in TrackingEvent._meta.concrete_fields if field.name in _STORED_FIELDS]


@functools.lru_cache(maxsize=64)
def _insert_sql(rows: int) -> str:
    quote = connection.ops.quote_name
    fields = _stored_fields()
    columns = ", ".join(quote(str(field.column)) for field in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return (
        f"INSERT INTO {quote(TrackingEvent._meta.db_table)} ({columns}) VALUES {', '.join([row] * rows)} "  # noqa: S608
        f"ON CONFLICT ({quote('dedup_key')}) DO NOTHING"
    )
