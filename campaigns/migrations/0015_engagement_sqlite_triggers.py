"""SQLite drops a table's triggers when Django rebuilds the table, and 0014 rebuilt the ledger
there (new columns): the engagement summary's row triggers of 0013 are created again, and the
summary recomputed. PostgreSQL alters the table in place and keeps its triggers: nothing to do."""

import importlib

from django.db import migrations

engagement = importlib.import_module("campaigns.migrations.0013_engagement")


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for name in ("campaigns_engagement_insert", "campaigns_engagement_update", "campaigns_engagement_delete"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
    schema_editor.execute("DELETE FROM campaigns_engagementsummary")
    for statement in engagement.SQLITE_FORWARD:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0014_ab_tests"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
