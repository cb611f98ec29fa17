"""Ledger writes of the send pipeline: a batch's rows as claimed, and each outcome recorded once.

Every write is conditional on the row still being SENDING under the batch's key, so a batch
recorded twice (two jobs, a watchdog retry) changes and counts each row once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from brevo import brevo_configured
from campaigns.models import Campaign, CampaignRecipient, RecipientStatus


@dataclass(frozen=True)
class LedgerRow:
    id: int
    user_id: int | None
    email: str
    first_name: str
    last_name: str
    # The A/B variant the row is sent (None: the campaign's own content).
    variant: str | None = None


ROW_FIELDS = ("id", "user_id", "email", "first_name", "last_name", "variant")


def batch_rows(key: uuid.UUID) -> list[LedgerRow]:
    rows = CampaignRecipient.objects.filter(batch_key=key, status=RecipientStatus.SENDING).order_by("id")
    return [LedgerRow(*values) for values in rows.values_list(*ROW_FIELDS)]


def ledger_split_by_variant(key: uuid.UUID, rows: list[LedgerRow]) -> list[tuple[uuid.UUID, list[LedgerRow]]]:
    """A claimed batch of an A/B test, one key per variant: a Brevo request carries one content,
    and each key is one request (retries included). The first variant keeps `key`; the others'
    rows get new keys. Call it in the claim's transaction, so no batch is ever mixed once claimed."""
    groups: dict[str | None, list[LedgerRow]] = {}
    for row in rows:
        groups.setdefault(row.variant, []).append(row)
    parts = []
    for index, (variant, group) in enumerate(groups.items()):
        part_key = key if index == 0 else uuid.uuid4()
        if index:
            CampaignRecipient.objects.filter(batch_key=key, status=RecipientStatus.SENDING, variant=variant).update(
                batch_key=part_key
            )
        parts.append((part_key, group))
    return parts


def ledger_touch(key: uuid.UUID, error: str = "") -> None:
    """The batch is being worked on (so the watchdog leaves it alone); remember the last error."""
    changes: dict[str, Any] = {"attempted_at": timezone.now()}
    if error:
        changes["last_error"] = error
    CampaignRecipient.objects.filter(batch_key=key, status=RecipientStatus.SENDING).update(**changes)


def ledger_rekey(key: uuid.UUID) -> uuid.UUID:
    new_key = uuid.uuid4()
    now = timezone.now()
    CampaignRecipient.objects.filter(batch_key=key, status=RecipientStatus.SENDING).update(
        batch_key=new_key, claimed_at=now, attempted_at=now
    )
    return new_key


def ledger_release(key: uuid.UUID, reason: str) -> int:
    """Rows of a batch Brevo refused whole without processing it: PENDING again, keyless, so a
    later claim sends them under a new key. Returns the rows released."""
    return CampaignRecipient.objects.filter(batch_key=key, status=RecipientStatus.SENDING).update(
        status=RecipientStatus.PENDING, batch_key=None, claimed_at=None, attempted_at=None, last_error=reason[:2000]
    )


def ledger_record_failed(key: uuid.UUID, failures: Sequence[tuple[int, str]]) -> int:
    count = 0
    with transaction.atomic():
        for row_id, reason in failures:
            count += CampaignRecipient.objects.filter(id=row_id, batch_key=key, status=RecipientStatus.SENDING).update(
                status=RecipientStatus.FAILED, last_error=reason[:2000]
            )
    return count


def ledger_record_sent(campaign_id: int, key: uuid.UUID, accepted: Sequence[tuple[int, str]], note: str = "") -> int:
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


def ledger_mark_unknown(rows: QuerySet[CampaignRecipient]) -> int:
    """Rows in flight whose outcome can no longer be learnt: UNKNOWN, for an operator to decide."""
    if brevo_configured():
        reason = "No answer from Brevo and its idempotency key has expired: it may or may not have been sent."
    else:
        reason = "The outbox write was interrupted: it may or may not have been written."
    return rows.filter(status=RecipientStatus.SENDING).update(status=RecipientStatus.UNKNOWN, last_error=reason)
