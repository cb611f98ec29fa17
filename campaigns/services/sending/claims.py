"""Claiming a batch: up to CAMPAIGN_BATCH_SIZE pending rows of a SENDING campaign, under a new key,
within what the sending pace allows (`pace`)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.db.models.expressions import RawSQL
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, CampaignVariant, RecipientStatus
from campaigns.services.sending.ledger import ROW_FIELDS, LedgerRow, batch_rows, ledger_split_by_variant
from campaigns.services.sending.pace import pace_allow, pace_spend
from campaigns.services.unsubscribe import DROPPED_AT_CLAIM, ledger_drop_unreachable, ledger_row_reachable
from core import clock


@dataclass
class Batch:
    campaign: Campaign
    key: uuid.UUID
    rows: list[LedgerRow]
    first_claimed_at: datetime | None = None
    claim_seconds: float = 0.0
    # The pace's hour and day the batch was counted in, to give back what is not sent.
    budget_windows: tuple[datetime, datetime] | None = None
    # Sent again under its key after an attempt whose outcome is unknown (the watchdog's retry).
    retried: bool = False
    # The A/B variant every row of the batch is sent (None: the campaign's own content).
    variant: CampaignVariant | None = None
    # A claim in an A/B test's share: one batch per variant, each under its own key (see
    # `ledger_split_by_variant`); empty when the claim is one batch, itself.
    parts: list[Batch] = field(default_factory=list)


def batch_variant(campaign: Campaign, rows: list[LedgerRow]) -> CampaignVariant | None:
    """The variant a batch's rows are sent (they all have the same, or none)."""
    return campaign.variant(rows[0].variant if rows else None)


@dataclass(frozen=True)
class Waiting:
    """The pace holds the campaign back: nothing claimed, come back at `until`."""

    until: datetime
    waiting_for: str


def batch_claim(*, campaign_id: int, after_id: int) -> Batch | Waiting | None:
    """Claim up to CAMPAIGN_BATCH_SIZE pending recipients under a new key (fewer when the pace's
    budget has less left), Waiting when the pace allows none now, or None if the campaign is not
    SENDING (paused, cancelled: nothing is claimed after that)."""
    key = uuid.uuid4()
    now = timezone.now()
    started = time.perf_counter()
    with transaction.atomic():
        # The campaign row is updated (locked) first: a pause or cancel committed before this
        # point is seen, and one arriving now waits for this short transaction.
        sending = Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING)
        if not sending.update(last_claim_at=now, waiting_until=None, waiting_for=""):
            return None
        allowance = pace_allow(want=settings.CAMPAIGN_BATCH_SIZE, now=clock.now())
        if allowance.wait_until is not None:
            sending.update(waiting_until=allowance.wait_until, waiting_for=allowance.waiting_for)
            return Waiting(until=allowance.wait_until, waiting_for=allowance.waiting_for)
        claim_window = _claim_window_postgresql if connection.vendor == "postgresql" else _claim_window_portable
        rows: list[LedgerRow] = []
        while not rows:
            # Whoever opted out or was suppressed since the audience was frozen is dropped at
            # claim, the last moment before Brevo; a window holding only such rows moves on.
            window_end, rows = claim_window(
                campaign_id=campaign_id, after_id=after_id, key=key, now=now, limit=allowance.count
            )
            if window_end is None:
                break
            after_id = window_end
        pace_spend(windows=allowance.windows, count=len(rows))
        split = ledger_split_by_variant(key, rows) if any(row.variant for row in rows) else []
    campaign = Campaign.objects.get(pk=campaign_id)
    batch = Batch(
        campaign=campaign,
        key=key,
        rows=rows,
        first_claimed_at=now,
        claim_seconds=time.perf_counter() - started,
        budget_windows=allowance.windows,
    )
    if split:
        variants = {variant.label: variant for variant in campaign.variants.all()}
        batch.parts = [
            Batch(
                campaign=campaign,
                key=part_key,
                rows=part_rows,
                first_claimed_at=now,
                budget_windows=allowance.windows,
                variant=variants.get(part_rows[0].variant or ""),
            )
            for part_key, part_rows in split
        ]
        batch.variant = batch.parts[0].variant
        if len(split) == 1:
            batch.parts = []
    return batch


def _claim_window_portable(
    *, campaign_id: int, after_id: int, key: uuid.UUID, now: datetime, limit: int
) -> tuple[int | None, list[LedgerRow]]:
    """Claim the reachable rows of the next window of pending rows after `after_id`; returns the
    window's last id (None when nothing is pending there) and the rows claimed, in id order."""
    window = list(
        CampaignRecipient.objects.select_for_update(skip_locked=True)
        .filter(campaign_id=campaign_id, status=RecipientStatus.PENDING, id__gt=after_id)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
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
    return window[-1], batch_rows(key) if ids else []


def _claim_window_postgresql(
    *, campaign_id: int, after_id: int, key: uuid.UUID, now: datetime, limit: int
) -> tuple[int | None, list[LedgerRow]]:
    """`_claim_window_portable` in one statement: lock the window (SKIP LOCKED), check each row's
    person with `reachable_users`, cancel the unreachable rows and claim the others, returning
    the claimed rows. Four round trips and three 1,000-id parameter lists fewer per batch."""
    table = connection.ops.quote_name(CampaignRecipient._meta.db_table)
    # The reachability rule is the selectors' own, compiled by the ORM (`ledger_row_reachable`, as
    # ledger_drop_unreachable applies it), so the claim cannot drift from the audience's definition.
    # Exists as a filter (a semi-join probing the users' primary key per row), not as a selected
    # column: PostgreSQL would hash every reachable user to answer that one.
    reachable = (
        CampaignRecipient.objects.filter(id__in=RawSQL("SELECT id FROM claim_window", ()))
        .filter(ledger_row_reachable())
        .order_by()
        .values_list("id")
    )
    reachable_sql, reachable_params = reachable.query.sql_with_params()
    columns = ", ".join(f"r.{connection.ops.quote_name(name)}" for name in ROW_FIELDS)
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
        f"SELECT w.window_end, {', '.join(f'c.{connection.ops.quote_name(name)}' for name in ROW_FIELDS)} "
        "FROM (SELECT max(id) AS window_end FROM claim_window) AS w LEFT JOIN claimed AS c ON true ORDER BY c.id"
    )
    params = [
        campaign_id,
        RecipientStatus.PENDING.value,
        after_id,
        limit,
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
