"""The merge path of the seeder: stage every generated row in temporary tables, then move what
is missing into the real tables set-based (`INSERT ... SELECT ... ON CONFLICT DO NOTHING`), which
resolves every foreign key (referring partner, agent, property, role group) by join in the
database. It serves re-runs and larger runs over an existing demo on PostgreSQL (staged with
COPY) and every run on other databases (staged with executemany)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from typing import Any

from django.db import connection
from django.db.models import Max

from accounts.models import User
from demo.rows import (
    TRANSLATED_USER_FIELDS,
    USER_COLUMNS,
    DemoEnrollment,
    DemoLead,
    DemoRecord,
    DemoUser,
    Progress,
)

# Rows per executemany on backends without COPY: large enough to amortise the round trip,
# small enough to keep memory flat.
STAGE_BATCH_SIZE = 5_000

_STAGE_COLUMNS = {
    "seed_demo_user": DemoUser._fields,
    "seed_demo_enrollment": DemoEnrollment._fields,
    "seed_demo_lead": DemoLead._fields,
}


def _stage_tables() -> dict[str, str]:
    """Each staging table's column definitions. The users' follow DemoUser: a column it fills in
    accounts_user keeps that column's type there, a translated field has its own."""
    user_columns = (
        f"{name} {TRANSLATED_USER_FIELDS.get(name) or User._meta.get_field(name).db_type(connection)}"
        for name in DemoUser._fields
    )
    return {
        "seed_demo_user": ", ".join(user_columns),
        "seed_demo_enrollment": (
            "user_email varchar(254), property_code varchar(50), agent_email varchar(254), created_at bigint"
        ),
        "seed_demo_lead": (
            "user_email varchar(254), agent_email varchar(254), status varchar(16), created_at bigint, closed_at bigint"
        ),
    }


def _stage_postgresql(cursor: Any, records: Iterator[DemoRecord]) -> None:
    """COPY users straight into staging while spooling enrollments and leads to temporary files
    (a connection runs one COPY at a time), then COPY those files in."""
    # Demo values never contain tabs, newlines or backslashes, so no COPY escaping is needed.
    null = r"\N"
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8") as enrollment_file,
        tempfile.TemporaryFile("w+", encoding="utf-8") as lead_file,
    ):
        write_enrollment, write_lead = enrollment_file.write, lead_file.write
        with cursor.copy(f"COPY seed_demo_user ({', '.join(DemoUser._fields)}) FROM STDIN") as copy:
            write_user = copy.write_row
            for user, enrollments, leads in records:
                write_user(user)
                for email, code, agent, created in enrollments:
                    write_enrollment(f"{email}\t{code}\t{agent or null}\t{created}\n")
                for email, agent, status, created, closed in leads:
                    write_lead(f"{email}\t{agent or null}\t{status}\t{created}\t{null if closed is None else closed}\n")
        for table, spool in (("seed_demo_enrollment", enrollment_file), ("seed_demo_lead", lead_file)):
            spool.seek(0)
            with cursor.copy(f"COPY {table} ({', '.join(_STAGE_COLUMNS[table])}) FROM STDIN") as copy:
                while chunk := spool.read(1 << 20):
                    copy.write(chunk)


def _stage_batches(cursor: Any, records: Iterator[DemoRecord]) -> None:
    """executemany in batches, for backends without COPY."""
    buffers: dict[str, list[tuple[Any, ...]]] = {table: [] for table in _STAGE_COLUMNS}

    def flush(table: str) -> None:
        columns = _STAGE_COLUMNS[table]
        placeholders = ", ".join(["%s"] * len(columns))
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",  # noqa: S608
            buffers[table],
        )
        buffers[table].clear()

    for user, enrollments, leads in records:
        buffers["seed_demo_user"].append(user)
        buffers["seed_demo_enrollment"].extend(enrollments)
        buffers["seed_demo_lead"].extend(leads)
        for table, rows in buffers.items():
            if len(rows) >= STAGE_BATCH_SIZE:
                flush(table)
    for table, rows in buffers.items():
        if rows:
            flush(table)


def _load_statements(*, postgres: bool) -> tuple[tuple[str, str], ...]:
    """The set-based moves from staging into the real tables, as (label, SQL) in order.

    The same SQL runs on PostgreSQL and SQLite but for the Unix-seconds conversion. Every
    INSERT ... SELECT has a WHERE clause, which SQLite needs to tell the upsert's ON CONFLICT from
    a join's ON. Parameters: %(password)s and %(last_id)s, the largest user id before the run:
    no one else writes users until the run commits (PostgreSQL: table lock; SQLite: the database
    write lock), so every id above it was inserted by this run.
    """

    def when(column: str) -> str:
        # Django stores SQLite datetimes as UTC text in exactly datetime()'s format.
        return f"to_timestamp({column})" if postgres else f"datetime({column}, 'unixepoch')"

    # Only fixed fragments are interpolated; values travel as parameters.
    columns = ", ".join(USER_COLUMNS)
    staged = ", ".join(f"s.{column}" for column in USER_COLUMNS)
    users = f"""
        INSERT INTO accounts_user (
            password, last_login, is_superuser, is_active, {columns}, date_joined, referred_by_partner_id
        )
        SELECT %(password)s, NULL, FALSE, TRUE, {staged}, {when("s.date_joined")}, {{referrer_id}}
        FROM seed_demo_user s {{referrer_join}}
        WHERE {{condition}}
        ORDER BY s.number
        ON CONFLICT DO NOTHING
    """  # noqa: S608
    return (
        ("users", users.format(referrer_id="NULL", referrer_join="", condition="s.referrer_email = ''")),
        # Referred users go in second, so their partner (anywhere in the stream) already has an id.
        (
            "referred users",
            users.format(
                referrer_id="p.id",
                referrer_join="JOIN accounts_user p ON p.email = s.referrer_email",
                condition="s.referrer_email <> ''",
            ),
        ),
        (
            "role groups",
            """
            INSERT INTO accounts_user_groups (user_id, group_id)
            SELECT u.id, g.id
            FROM accounts_user u
            JOIN auth_group g ON g.name = u.role
            WHERE u.id > %(last_id)s
            ON CONFLICT DO NOTHING
            """,
        ),
        (
            "enrollments",
            f"""
            INSERT INTO accounts_enrollment (user_id, property_id, agent_id, created_at)
            SELECT u.id, p.id, a.id, {when("e.created_at")}
            FROM seed_demo_enrollment e
            JOIN accounts_user u ON u.email = e.user_email
            JOIN accounts_property p ON p.code = e.property_code
            LEFT JOIN accounts_user a ON a.email = e.agent_email
            WHERE u.id > %(last_id)s
            ON CONFLICT DO NOTHING
            """,  # noqa: S608
        ),
        (
            "leads",
            f"""
            INSERT INTO accounts_lead (user_id, agent_id, status, created_at, closed_at)
            SELECT u.id, a.id, l.status, {when("l.created_at")}, {when("l.closed_at")}
            FROM seed_demo_lead l
            JOIN accounts_user u ON u.email = l.user_email
            LEFT JOIN accounts_user a ON a.email = l.agent_email
            WHERE u.id > %(last_id)s
            """,  # noqa: S608
        ),
    )


def staged_merge(
    cursor: Any, records: Iterator[DemoRecord], *, postgres: bool, password: str, say: Progress
) -> dict[str, int]:
    """Stage every row, then move what is missing set-based (ON CONFLICT DO NOTHING); idempotent."""
    for table, columns in _stage_tables().items():
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TEMPORARY TABLE {table} ({columns})")
    last_id_before = User.objects.aggregate(last=Max("id"))["last"] or 0

    step = time.monotonic()
    (_stage_postgresql if postgres else _stage_batches)(cursor, records)
    if postgres:
        # Temporary tables are never auto-analysed; without statistics the joins plan badly.
        cursor.execute("ANALYZE seed_demo_user, seed_demo_enrollment, seed_demo_lead")
    say(f"generated and staged the rows in {time.monotonic() - step:.1f}s")

    inserted: dict[str, int] = {}
    params = {"password": password, "last_id": last_id_before}
    for label, sql in _load_statements(postgres=postgres):
        step = time.monotonic()
        cursor.execute(sql, params)
        inserted[label] = cursor.rowcount
        say(f"inserted {cursor.rowcount:,} {label} in {time.monotonic() - step:.1f}s")
    inserted["users"] += inserted.pop("referred users")
    for table in _STAGE_COLUMNS:
        cursor.execute(f"DROP TABLE {table}")
    return inserted
