"""A narrow covering index of who may be emailed, for counts over most of the audience.

Counts that test users only for the reachability flag and the membership preset (every
engagement criterion alone, the presets) scan each user once: from `acc_user_audience_idx`
(every column a criterion reads, 137 MB at a million users, more than PostgreSQL's default
shared buffers) such a scan reads the whole index from the operating system on every count;
from this one (about 40 MB) it stays in PostgreSQL's cache. PostgreSQL only, like the audience
index: SQLite has no covering indexes.
"""

from django.db import migrations

FORWARD = "CREATE INDEX acc_user_reach_idx ON accounts_user (id) INCLUDE (reachable, membership_status)"
BACKWARD = "DROP INDEX acc_user_reach_idx"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_reachable"),
    ]

    operations = [migrations.RunPython(forward, backward)]
