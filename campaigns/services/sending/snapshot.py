"""Freezing the audience: the campaign's reachable audience copied into its ledger, once."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Value
from django.utils import timezone

from campaigns import queue
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from campaigns.rendering import archive_slug_for, campaign_html
from campaigns.selectors import campaign_audience
from campaigns.services.sending.ending import campaign_fail, campaign_finish_if_done
from campaigns.services.state_machine import (
    campaign_action_allowed,
)

logger = logging.getLogger(__name__)

# A snapshot this large refreshes the ledger's planner statistics at once (see campaign_start).
ANALYZE_AFTER_ROWS = 50_000


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
        if campaign is None or not campaign_action_allowed(campaign=campaign, action="start"):
            return 0
        inserted = 0
        if campaign.audience_frozen_at is None:
            inserted = ledger_insert_audience(campaign=campaign)
            # The HTML is frozen with the audience: what every batch sends from now on; the
            # archive's address too, from the subject that can no longer change.
            Campaign.objects.filter(pk=campaign_id).update(
                audience_frozen_at=timezone.now(),
                sent_html=campaign_html(campaign),
                archive_slug=campaign.archive_slug or archive_slug_for(campaign),
            )
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
        queue.enqueue_campaign_send_batch(campaign_id)
    campaign_finish_if_done(campaign_id=campaign_id)
    return chains
