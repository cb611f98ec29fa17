"""The engagement summary also keeps, per person, the campaigns they received, opened and
clicked (campaigns.models.EngagementSummary), so the criteria naming campaigns read one row per
person instead of the ledger's rows of those campaigns; the ledger's three partial indexes that
served them go (tracking updates no longer maintain them).

Measured at a million people and 11M ledger rows (docs/BENCHMARKS.md): "received one of the 3
latest campaigns and opened none" hashed 2M ledger entries against the users; it now filters
the summary's 774k rows.
"""

import importlib

from django.db import migrations, models

previous = importlib.import_module("campaigns.migrations.0013_engagement")

# The ledger of one person, grouped by campaign first: "opened" is per campaign (any of their rows
# of it), and so is the receipt time it takes over. `{campaigns}` aggregates campaign ids into a
# JSON object's keys, in each database's words.
_PER_CAMPAIGN = """
    SELECT user_id, campaign_id,
           max(CASE WHEN status = 'SENT' THEN 1 ELSE 0 END) AS got,
           max(sent_at) FILTER (WHERE status = 'SENT') AS received,
           max(CASE WHEN first_opened_at IS NOT NULL THEN 1 ELSE 0 END) AS opened,
           max(CASE WHEN first_clicked_at IS NOT NULL THEN 1 ELSE 0 END) AS clicked,
           max(last_engaged_at) AS engaged
    FROM campaigns_campaignrecipient
    WHERE {where}
    GROUP BY user_id, campaign_id
"""
_COLUMNS = (
    "user_id, last_received_at, last_opened_received_at, last_engaged_at, "
    "received_campaigns, opened_campaigns, clicked_campaigns"
)
_SUMMARY = (
    f"INSERT INTO campaigns_engagementsummary ({_COLUMNS}) "
    "SELECT user_id, max(received), max(received) FILTER (WHERE opened = 1), max(engaged), "
    "{campaigns_got}, {campaigns_opened}, {campaigns_clicked} "
    "FROM (" + _PER_CAMPAIGN + ") AS per_campaign GROUP BY user_id "
    "HAVING max(got) = 1 OR max(opened) = 1 OR max(clicked) = 1 OR max(engaged) IS NOT NULL"
)


def _postgresql_set(column: str, condition: str) -> str:
    return f"coalesce(jsonb_object_agg({column}::text, true) FILTER (WHERE {condition}), '{{}}'::jsonb)"


def _sqlite_set(column: str, condition: str) -> str:
    return f"coalesce(json_group_object(CAST({column} AS TEXT), json('true')) FILTER (WHERE {condition}), '{{}}')"


def _summary(campaign_set, where: str) -> str:
    return _SUMMARY.format(
        where=where,
        campaigns_got=campaign_set("campaign_id", "got = 1"),
        campaigns_opened=campaign_set("campaign_id", "opened = 1"),
        campaigns_clicked=campaign_set("campaign_id", "clicked = 1"),
    )


# Raise the summaries of the people of the rows `n` (as written) by what those rows add: times
# with GREATEST, campaign sets with a union of keys (`||`), both of which concurrent transactions
# can apply in any order.
_RAISE = (
    f"INSERT INTO campaigns_engagementsummary AS s ({_COLUMNS})"
    + """
    SELECT n.user_id,
           max(n.sent_at) FILTER (WHERE n.status = 'SENT'),
           max(CASE
               -- Opened: the campaign's latest receipt by this person (a resend may have another row).
               WHEN n.first_opened_at IS NOT NULL THEN (
                   SELECT max(l.sent_at) FROM campaigns_campaignrecipient AS l
                   WHERE l.campaign_id = n.campaign_id AND l.user_id = n.user_id AND l.status = 'SENT')
               -- Received a campaign this person opened through another row.
               WHEN n.status = 'SENT' AND EXISTS (
                   SELECT 1 FROM campaigns_campaignrecipient AS l
                   WHERE l.campaign_id = n.campaign_id AND l.user_id = n.user_id AND l.first_opened_at IS NOT NULL)
               THEN n.sent_at
           END),
           max(n.last_engaged_at),
           """
    + _postgresql_set("n.campaign_id", "n.status = 'SENT'")
    + ",\n           "
    + _postgresql_set("n.campaign_id", "n.first_opened_at IS NOT NULL")
    + ",\n           "
    + _postgresql_set("n.campaign_id", "n.first_clicked_at IS NOT NULL")
    + """
    FROM {rows}
      AND n.user_id IS NOT NULL
      AND (n.status = 'SENT' OR n.first_opened_at IS NOT NULL OR n.first_clicked_at IS NOT NULL
           OR n.last_engaged_at IS NOT NULL)
    GROUP BY n.user_id
    ON CONFLICT (user_id) DO UPDATE SET
        last_received_at = GREATEST(s.last_received_at, EXCLUDED.last_received_at),
        last_opened_received_at = GREATEST(s.last_opened_received_at, EXCLUDED.last_opened_received_at),
        last_engaged_at = GREATEST(s.last_engaged_at, EXCLUDED.last_engaged_at),
        received_campaigns = s.received_campaigns || EXCLUDED.received_campaigns,
        opened_campaigns = s.opened_campaigns || EXCLUDED.opened_campaigns,
        clicked_campaigns = s.clicked_campaigns || EXCLUDED.clicked_campaigns
"""
)

# PostgreSQL: the triggers of 0013 stay; their functions are replaced. Rows that could lower a
# value or shrink a set (deleted, un-sent, un-opened, un-clicked, moved to another person or
# campaign) have their people recomputed from the ledger; the rest raise.
POSTGRESQL_FORWARD = (
    """
CREATE OR REPLACE FUNCTION campaigns_engagement_recompute(people bigint[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM campaigns_engagementsummary WHERE user_id = ANY(people);
    """
    + _summary(_postgresql_set, "user_id = ANY(people)")
    + """;
END $$;

CREATE OR REPLACE FUNCTION campaigns_engagement_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A snapshot inserts its rows PENDING: nothing to raise.
    """
    + _RAISE.replace("{rows}", "new_rows AS n WHERE true")
    + """;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION campaigns_engagement_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    lowered bigint[];
BEGIN
    -- People one of whose rows might lower a value or leave a set.
    SELECT array_agg(DISTINCT person) INTO lowered
    FROM old_rows AS o JOIN new_rows AS n USING (id), LATERAL (VALUES (o.user_id), (n.user_id)) AS p(person)
    WHERE person IS NOT NULL AND (
        o.user_id IS DISTINCT FROM n.user_id OR o.campaign_id <> n.campaign_id
        OR (o.status = 'SENT' AND (n.status <> 'SENT' OR n.sent_at IS NULL OR n.sent_at < o.sent_at))
        OR (o.first_opened_at IS NOT NULL AND n.first_opened_at IS NULL)
        OR (o.first_clicked_at IS NOT NULL AND n.first_clicked_at IS NULL)
        OR (o.last_engaged_at IS NOT NULL AND (n.last_engaged_at IS NULL OR n.last_engaged_at < o.last_engaged_at)));
    IF lowered IS NOT NULL THEN
        PERFORM campaigns_engagement_recompute(lowered);
    END IF;
    -- Rows whose values the summary reads changed (claims, deliveries and the like change none).
    """
    + _RAISE.replace(
        "{rows}",
        """old_rows AS o JOIN new_rows AS n USING (id)
    WHERE NOT (n.user_id = ANY(coalesce(lowered, '{}')))
      AND (o.status IS DISTINCT FROM n.status OR o.sent_at IS DISTINCT FROM n.sent_at
           OR (o.first_opened_at IS NULL) <> (n.first_opened_at IS NULL)
           OR (o.first_clicked_at IS NULL) <> (n.first_clicked_at IS NULL)
           OR o.last_engaged_at IS DISTINCT FROM n.last_engaged_at)"""
    )
    + """;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION campaigns_engagement_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM campaigns_engagement_recompute(ARRAY(
        SELECT DISTINCT o.user_id FROM old_rows AS o
        WHERE o.user_id IS NOT NULL
          AND (o.status = 'SENT' OR o.first_opened_at IS NOT NULL OR o.first_clicked_at IS NOT NULL
               OR o.last_engaged_at IS NOT NULL)));
    RETURN NULL;
END $$;

-- The summary again, from the ledger: one pass, sorted in memory where it fits.
SET LOCAL work_mem = '256MB';
TRUNCATE campaigns_engagementsummary;
"""
    + _summary(_postgresql_set, "user_id IS NOT NULL")
    + ";"
)

# SQLite (development, tests): row triggers that recompute the person from their rows.
_SQLITE_RECOMPUTE = (
    "DELETE FROM campaigns_engagementsummary WHERE user_id = {row}.user_id; "
    + _summary(_sqlite_set, "user_id = {row}.user_id")
    + ";"
)
_TRIGGERS = ("campaigns_engagement_insert", "campaigns_engagement_update", "campaigns_engagement_delete")
SQLITE_FORWARD = [
    "DELETE FROM campaigns_engagementsummary",
    _summary(_sqlite_set, "user_id IS NOT NULL"),
    "CREATE TRIGGER campaigns_engagement_insert AFTER INSERT ON campaigns_campaignrecipient "
    "WHEN NEW.user_id IS NOT NULL BEGIN " + _SQLITE_RECOMPUTE.replace("{row}", "NEW") + " END",
    "CREATE TRIGGER campaigns_engagement_update AFTER UPDATE OF user_id, campaign_id, status, sent_at, "
    "first_opened_at, first_clicked_at, last_engaged_at ON campaigns_campaignrecipient BEGIN "
    + _SQLITE_RECOMPUTE.replace("{row}", "OLD")
    + " "
    + _SQLITE_RECOMPUTE.replace("{row}", "NEW")
    + " END",
    "CREATE TRIGGER campaigns_engagement_delete AFTER DELETE ON campaigns_campaignrecipient "
    "WHEN OLD.user_id IS NOT NULL BEGIN " + _SQLITE_RECOMPUTE.replace("{row}", "OLD") + " END",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_FORWARD, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)
    else:
        raise NotImplementedError(f"No engagement triggers for {schema_editor.connection.vendor}.")


def drop_sqlite_triggers(apps, schema_editor):
    """SQLite checks every trigger that names a table when Django rebuilds that table (to add or
    remove a column): the ledger's triggers name the summary, so they go first."""
    if schema_editor.connection.vendor == "sqlite":
        for name in _TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


def backward(apps, schema_editor):
    """The functions or triggers of 0013 again, once the new columns are gone; the summary refilled."""
    if schema_editor.connection.vendor == "postgresql":
        functions = previous.POSTGRESQL_FORWARD.split("CREATE TRIGGER")[0]
        schema_editor.execute(functions.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"), params=None)
        schema_editor.execute("DELETE FROM campaigns_engagementsummary")
        schema_editor.execute(previous._SUMMARY.format(where="user_id IS NOT NULL"))
    else:
        schema_editor.execute("DELETE FROM campaigns_engagementsummary")
        for statement in previous.SQLITE_FORWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0016_ab_wait_bound"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="campaignrecipient", name="campaign_rcpt_received_idx"),
        migrations.RemoveIndex(model_name="campaignrecipient", name="campaign_rcpt_opened_idx"),
        migrations.RemoveIndex(model_name="campaignrecipient", name="campaign_rcpt_clicked_idx"),
        migrations.RunPython(drop_sqlite_triggers, backward),
        migrations.AddField(
            model_name="engagementsummary", name="received_campaigns", field=models.JSONField(default=dict)
        ),
        migrations.AddField(
            model_name="engagementsummary", name="opened_campaigns", field=models.JSONField(default=dict)
        ),
        migrations.AddField(
            model_name="engagementsummary", name="clicked_campaigns", field=models.JSONField(default=dict)
        ),
        migrations.RunPython(forward, drop_sqlite_triggers),
    ]
