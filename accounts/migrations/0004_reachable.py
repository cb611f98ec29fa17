"""`User.reachable`: who may be emailed, kept on the user row by the database itself.

The rule (verified, not opted out, address not suppressed) reads two tables. Evaluating it per
user inside every count cost seconds at a million users, so its answer is stored on the row
and kept in step by triggers on both tables, whoever writes them: the services, the admin's
forms, bulk imports, the demo seeder's COPY, another app's UPDATE or an operator's psql. The
PostgreSQL triggers are ENABLE ALWAYS, so a session in replica mode (the seeder's, which skips
per-row foreign key checks) keeps the flag too. `accounts.services.reachability_repair` (the
`repair_reachability` command, also run hourly) compares the flag with the rule and mends it.

Also, on PostgreSQL only, the covering index segment counts read instead of the table: the user
id with every column a segment criterion tests and the flag, about a third of the table's size.
"""

from django.db import migrations, models

POSTGRESQL_FORWARD = """
LOCK TABLE accounts_suppression IN SHARE MODE;

UPDATE accounts_user AS u SET reachable = true
WHERE u.is_verified AND u.email_opted_out_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM accounts_suppression AS s WHERE s.email = lower(u.email));

-- The rule for the row being written. Written out here rather than in a SQL function: this runs
-- for each of a million rows a bulk load COPYs, and a function call costs more than the probe.
CREATE FUNCTION accounts_user_reachable_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.is_verified AND NEW.email_opted_out_at IS NULL THEN
        NEW.reachable := NOT EXISTS (SELECT 1 FROM accounts_suppression WHERE email = lower(NEW.email));
    ELSE
        NEW.reachable := false;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER accounts_user_reachable_insert BEFORE INSERT ON accounts_user
FOR EACH ROW EXECUTE FUNCTION accounts_user_reachable_keep();

-- An update that changes none of the rule's inputs (a login, a name) costs nothing; one that
-- writes the flag itself is overruled.
CREATE TRIGGER accounts_user_reachable_update BEFORE UPDATE ON accounts_user
FOR EACH ROW WHEN (
    NEW.email IS DISTINCT FROM OLD.email
    OR NEW.is_verified IS DISTINCT FROM OLD.is_verified
    OR NEW.email_opted_out_at IS DISTINCT FROM OLD.email_opted_out_at
    OR NEW.reachable IS DISTINCT FROM OLD.reachable
) EXECUTE FUNCTION accounts_user_reachable_keep();

-- A suppression added, lifted or moved: the users with that address (any case) are written, and
-- the trigger above recomputes their flag from the suppression list as it now stands.
CREATE FUNCTION accounts_suppression_reachable_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE accounts_user SET reachable = false WHERE lower(email) = NEW.email AND reachable;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE accounts_user SET reachable = true
        WHERE lower(email) = OLD.email AND NOT reachable AND is_verified AND email_opted_out_at IS NULL;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER accounts_suppression_reachable AFTER INSERT OR DELETE OR UPDATE OF email ON accounts_suppression
FOR EACH ROW EXECUTE FUNCTION accounts_suppression_reachable_keep();

CREATE FUNCTION accounts_suppression_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE accounts_user SET reachable = true
    WHERE NOT reachable AND is_verified AND email_opted_out_at IS NULL;
    RETURN NULL;
END
$$;

CREATE TRIGGER accounts_suppression_reachable_truncate AFTER TRUNCATE ON accounts_suppression
FOR EACH STATEMENT EXECUTE FUNCTION accounts_suppression_truncated();

ALTER TABLE accounts_user ENABLE ALWAYS TRIGGER accounts_user_reachable_insert;
ALTER TABLE accounts_user ENABLE ALWAYS TRIGGER accounts_user_reachable_update;
ALTER TABLE accounts_suppression ENABLE ALWAYS TRIGGER accounts_suppression_reachable;
ALTER TABLE accounts_suppression ENABLE ALWAYS TRIGGER accounts_suppression_reachable_truncate;

CREATE INDEX acc_user_audience_idx ON accounts_user (id)
INCLUDE (membership_status, role, gender, country, state, referral_source, referred_by_partner_id, reachable);
"""

POSTGRESQL_BACKWARD = """
DROP INDEX acc_user_audience_idx;
DROP TRIGGER accounts_suppression_reachable_truncate ON accounts_suppression;
DROP TRIGGER accounts_suppression_reachable ON accounts_suppression;
DROP TRIGGER accounts_user_reachable_update ON accounts_user;
DROP TRIGGER accounts_user_reachable_insert ON accounts_user;
DROP FUNCTION accounts_suppression_truncated();
DROP FUNCTION accounts_suppression_reachable_keep();
DROP FUNCTION accounts_user_reachable_keep();
"""

# SQLite (development and the default test run): the same rule, as triggers that rewrite the row
# after the fact (SQLite's BEFORE triggers cannot change the row being written). SQLite drops a
# table's triggers when Django rebuilds the table, so a later migration that rebuilds
# accounts_user or accounts_suppression there must create these again (the reachability tests
# fail on SQLite until it does).
_SQLITE_RULE = (
    "{row}.is_verified AND {row}.email_opted_out_at IS NULL "
    "AND NOT EXISTS (SELECT 1 FROM accounts_suppression AS s WHERE s.email = lower({row}.email))"
)
SQLITE_FORWARD = [
    "UPDATE accounts_user SET reachable = (" + _SQLITE_RULE.format(row="accounts_user") + ")",
    "CREATE TRIGGER accounts_user_reachable_insert AFTER INSERT ON accounts_user BEGIN "
    "UPDATE accounts_user SET reachable = (" + _SQLITE_RULE.format(row="NEW") + ") WHERE id = NEW.id; END",
    "CREATE TRIGGER accounts_user_reachable_update AFTER UPDATE OF email, is_verified, email_opted_out_at, reachable "
    "ON accounts_user BEGIN "
    "UPDATE accounts_user SET reachable = (" + _SQLITE_RULE.format(row="NEW") + ") WHERE id = NEW.id; END",
    "CREATE TRIGGER accounts_suppression_reachable_insert AFTER INSERT ON accounts_suppression BEGIN "
    "UPDATE accounts_user SET reachable = 0 WHERE lower(email) = NEW.email; END",
    "CREATE TRIGGER accounts_suppression_reachable_delete AFTER DELETE ON accounts_suppression BEGIN "
    "UPDATE accounts_user SET reachable = (" + _SQLITE_RULE.format(row="accounts_user") + ") "
    "WHERE lower(email) = OLD.email; END",
    "CREATE TRIGGER accounts_suppression_reachable_update AFTER UPDATE OF email ON accounts_suppression BEGIN "
    "UPDATE accounts_user SET reachable = (" + _SQLITE_RULE.format(row="accounts_user") + ") "
    "WHERE lower(email) IN (OLD.email, NEW.email); END",
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER {name}"
    for name in (
        "accounts_user_reachable_insert",
        "accounts_user_reachable_update",
        "accounts_suppression_reachable_insert",
        "accounts_suppression_reachable_delete",
        "accounts_suppression_reachable_update",
    )
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # No parameters: the statements (and the functions' bodies) go as written, in one round trip.
        schema_editor.execute(POSTGRESQL_FORWARD, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)
    else:
        raise NotImplementedError(f"No reachability triggers for {schema_editor.connection.vendor}.")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_BACKWARD, params=None)
    else:
        for statement in SQLITE_BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_erasure"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="reachable",
            field=models.BooleanField(
                "may be emailed",
                db_default=False,
                default=False,
                editable=False,
                help_text=(
                    "Verified, not opted out, address not suppressed. Kept by the database (triggers on users "
                    "and suppressions); never written by the application."
                ),
            ),
        ),
        migrations.RunPython(forward, backward),
    ]
