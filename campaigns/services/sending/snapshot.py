"""Freezing the audience: the campaign's reachable audience copied into its ledger, once."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Value
from django.utils import timezone

from campaigns import queue
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, CampaignVariant, RecipientStatus
from campaigns.rendering import archive_slug_for, campaign_html
from campaigns.selectors import campaign_audience
from campaigns.services.sending.ending import campaign_fail, campaign_finish_if_done
from campaigns.services.state_machine import (
    campaign_action_allowed,
)

logger = logging.getLogger(__name__)

# A snapshot this large refreshes the ledger's planner statistics at once (see campaign_start).
ANALYZE_AFTER_ROWS = 50_000


def ab_test_size(*, audience: int, share: int) -> int:
    """Recipients in an A/B test share: round(audience x share / 100), halves up (the SQL of
    `ledger_insert_audience` computes the same in integers)."""
    return (2 * audience * share + 100) // 200


def ledger_insert_audience(*, campaign: Campaign, test_share: int | None = None) -> int:
    """Copy the campaign's current audience into its ledger in one INSERT ... SELECT; members
    already there (same email, any case) are skipped. Returns the rows added.

    An A/B test (`variants`) assigns every row in the same statement: the audience is ranked by a
    hash of the user id seeded with the campaign's, a uniform order that is the same every time
    for the campaign and owes nothing to id order or emails; the first round(N x `test_share` / 100) ranks are dealt
    to the variants in turn (sizes differ by at most one), the rest is the remainder: HELD for
    the winner, or PENDING with it once decided. `test_share` defaults to the campaign's.
    """
    labels = sorted(campaign.variants.values_list("label", flat=True))
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
        if model_field.primary_key or (labels and model_field.name in _AB_COLUMNS):
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
    select_sql, select_params = audience.query.sql_with_params()
    quote = connection.ops.quote_name
    table = quote(CampaignRecipient._meta.db_table)
    column_list = ", ".join(quote(column) for column, _ in columns)
    alias_list = ", ".join(quote(alias) for _, alias in columns)
    source, params = f"({select_sql}) AS audience", list(select_params)
    if labels:
        column_list += ", variant, ab_remainder"
        alias_list, source, params = _ab_assignment(campaign, labels, columns, source, params, test_share)
    select = f"SELECT {alias_list} FROM {source}"  # noqa: S608
    # Rows go in in the order of the ledger's unique index on (campaign, lower(email)), so each
    # entry lands at that index's right edge instead of a random leaf: at a million rows 15.5 ->
    # 13.3 s, and 26.5 -> 15.7 s for an A/B test, whose ranking leaves the rows in hash order.
    order = f"ORDER BY lower({quote('ledger_email')})"
    # `WHERE true` keeps SQLite's parser from reading ON CONFLICT as part of the SELECT.
    sql = f"INSERT INTO {table} ({column_list}) {select} WHERE true {order} ON CONFLICT DO NOTHING"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = max(cursor.rowcount, 0)
    if inserted:
        Campaign.objects.filter(pk=campaign.pk).update(recipients_total=F("recipients_total") + inserted)
    return inserted


# Ledger columns an A/B test's snapshot fills itself.
_AB_COLUMNS = ("variant", "ab_remainder")


def _ab_assignment(
    campaign: Campaign,
    labels: list[str],
    columns: list[tuple[str, str]],
    audience: str,
    params: list[Any],
    test_share: int | None,
) -> tuple[str, str, list[Any]]:
    """An A/B test's snapshot: the select list, the FROM source (`audience` ranked by a hash of
    the user id seeded by the campaign, and counted) and the parameters of both, in order."""
    share = campaign.ab_test_share if test_share is None else test_share
    remainder_status = RecipientStatus.PENDING if campaign.ab_winner else RecipientStatus.HELD
    # rank <= round(N x share / 100), halves up, in integers: rank x 200 <= N x 2 x share + 100.
    in_test = "ranked.ab_rank * 200 <= ranked.ab_size * 2 * %s + 100"
    deal = " ".join(f"WHEN {index} THEN %s" for index in range(len(labels)))
    quote = connection.ops.quote_name
    select: list[str] = []
    select_params: list[Any] = []
    for column, alias in columns:
        if column == "status":
            select.append(f"CASE WHEN {in_test} THEN %s ELSE %s END")
            select_params += [share, RecipientStatus.PENDING.value, remainder_status.value]
        else:
            select.append(quote(alias))
    # Ranks in the test share are dealt to the variants in turn: A, B, C, A, B, C...
    select.append(f"CASE WHEN {in_test} THEN CASE (ranked.ab_rank - 1) %% %s {deal} END ELSE %s END")
    select_params += [share, len(labels), *labels, campaign.ab_winner or None]
    select.append(f"NOT ({in_test})")
    select_params.append(share)
    # The rank's key: a seeded hash of the user id. PostgreSQL's own 64-bit hash (the one hash
    # partitioning uses) sorts twice as fast as an md5 string; elsewhere md5 does the same job.
    # The user id breaks ties, so the order is total and the same every time for the campaign.
    seed: int | str
    if connection.vendor == "postgresql":
        key, seed = "hashint8extended(audience.ledger_user_id, %s)", campaign.pk
    else:
        key, seed = "md5(%s || CAST(audience.ledger_user_id AS TEXT))", f"campaign-{campaign.pk}:"
    ranked = (
        f"(SELECT audience.*, ROW_NUMBER() OVER (ORDER BY {key}, audience.ledger_user_id) AS ab_rank, "  # noqa: S608
        f"COUNT(*) OVER () AS ab_size FROM {audience}) AS ranked"
    )
    return ", ".join(select), ranked, [*select_params, seed, *params]


def campaign_start(*, campaign_id: int) -> int:
    """Freeze the audience if not done yet, then start the batch chains. Safe to run twice:
    the campaign row lock and `audience_frozen_at` let one run write the ledger."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or not campaign_action_allowed(campaign=campaign, action="start"):
            return 0
        inserted = released = 0
        if campaign.audience_frozen_at is None:
            inserted = ledger_insert_audience(campaign=campaign)
            # The HTML is frozen with the audience: what every batch sends from now on; the
            # archive's address too, from the subject that can no longer change.
            Campaign.objects.filter(pk=campaign_id).update(
                audience_frozen_at=timezone.now(),
                sent_html=campaign_html(campaign),
                archive_slug=campaign.archive_slug or archive_slug_for(campaign),
            )
            for variant in campaign.variants.exclude(body_html=""):
                CampaignVariant.objects.filter(pk=variant.pk).update(sent_html=campaign_html(campaign, variant))
            logger.info("campaign %s: audience frozen, %s recipients", campaign_id, inserted)
            if not inserted and not CampaignRecipient.objects.filter(campaign_id=campaign_id).exists():
                # Everyone left the audience between the click and this job: a failure with
                # its reason, never a campaign "sent" to nobody.
                campaign_fail(
                    campaign_id=campaign_id,
                    reason="Not sent: nobody in the audience could be emailed when sending began.",
                )
                return 0
        elif campaign.ab_winner:
            # The A/B winner was decided: the remainder gets it and becomes claimable.
            released = CampaignRecipient.objects.filter(campaign_id=campaign_id, status=RecipientStatus.HELD).update(
                status=RecipientStatus.PENDING, variant=campaign.ab_winner
            )
            if released:
                logger.info("campaign %s: %s remainder rows get variant %s", campaign_id, released, campaign.ab_winner)
        status = campaign.status
    if max(inserted, released) >= ANALYZE_AFTER_ROWS and connection.vendor == "postgresql":
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
