"""The fast path of the seeder on PostgreSQL: when none of the demo users exists yet, COPY the
generated rows straight into the real tables, with every id known up front."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from django.contrib.auth.models import Group

from accounts.models import Property, Role
from demo.rows import USER_COLUMNS, DemoRecord, DemoUser, Progress, demo_email, demo_number


def demo_users_exist(cursor: Any, users: int) -> bool:
    """Whether any user might clash with the demo emails 1..users (a cheap range test on the
    case-insensitive unique index; a false alarm only costs the slower merge)."""
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM accounts_user WHERE lower(email) BETWEEN %s AND %s)",
        [demo_email(1), demo_email(users)],
    )
    row = cursor.fetchone()
    return bool(row and row[0])


def postgres_copy_fresh(cursor: Any, records: Iterator[DemoRecord], *, password: str, say: Progress) -> dict[str, int]:
    """COPY straight into the real tables when none of the demo users exists yet.

    The users get ids reserved up front (the table is locked against other writers), so every
    foreign key (referring partner, agent, group, property) is known while generating: no staging,
    no joins, and PostgreSQL maintains the indexes while Python generates the next rows.
    """
    cursor.execute(
        "SELECT GREATEST(nextval(pg_get_serial_sequence('accounts_user', 'id')), "
        "(SELECT COALESCE(MAX(id), 0) FROM accounts_user))"
    )
    row = cursor.fetchone()
    base = int(row[0]) if row else 0  # demo user n gets id base + n
    group_ids = dict(Group.objects.filter(name__in=Role.values).values_list("name", "id"))
    property_ids = dict(Property.objects.filter(code__startswith="DEMO-").values_list("code", "id"))
    days: dict[int, str] = {}

    def when(seconds: int | None) -> str:
        # COPY parses text; formatting per day is cached since strftime per value is slow.
        if seconds is None:
            return r"\N"
        day, second = divmod(seconds, 86400)
        date = days.get(day)
        if date is None:
            date = days[day] = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")
        return f"{date} {second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}+00"

    def user_id(email: str | None) -> str:
        return r"\N" if email is None else str(base + demo_number(email))

    counts = {"users": 0, "role groups": 0, "enrollments": 0, "leads": 0}
    step = time.monotonic()
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8") as group_file,
        tempfile.TemporaryFile("w+", encoding="utf-8") as enrollment_file,
        tempfile.TemporaryFile("w+", encoding="utf-8") as lead_file,
    ):
        # The USER_COLUMNS of a DemoUser go in as they stand; the other columns are filled here.
        as_they_stand = itemgetter(*(DemoUser._fields.index(column) for column in USER_COLUMNS))
        columns = (
            "id",
            "password",
            "is_superuser",
            "is_active",
            *USER_COLUMNS,
            "date_joined",
            "referred_by_partner_id",
        )
        with cursor.copy(f"COPY accounts_user ({', '.join(columns)}) FROM STDIN") as copy:
            write_user = copy.write_row
            for user, enrollments, leads in records:
                number = user.number
                referrer = base + demo_number(user.referrer_email) if user.referrer_email else None
                write_user(
                    (base + number, password, False, True, *as_they_stand(user), when(user.date_joined), referrer)
                )
                group_file.write(f"{base + number}\t{group_ids[user.role]}\n")
                for _, code, agent, created in enrollments:
                    enrollment_file.write(f"{base + number}\t{property_ids[code]}\t{user_id(agent)}\t{when(created)}\n")
                for _, agent, status, created, closed in leads:
                    lead_file.write(f"{base + number}\t{user_id(agent)}\t{status}\t{when(created)}\t{when(closed)}\n")
                counts["users"] += 1
                counts["enrollments"] += len(enrollments)
                counts["leads"] += len(leads)
        counts["role groups"] = counts["users"]
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('accounts_user', 'id'), %s)", [base + max(counts["users"], 1)]
        )
        say(f"generated and copied {counts['users']:,} users in {time.monotonic() - step:.1f}s")
        for label, table, spool in (
            ("role groups", "accounts_user_groups (user_id, group_id)", group_file),
            ("enrollments", "accounts_enrollment (user_id, property_id, agent_id, created_at)", enrollment_file),
            ("leads", "accounts_lead (user_id, agent_id, status, created_at, closed_at)", lead_file),
        ):
            step = time.monotonic()
            spool.seek(0)
            with cursor.copy(f"COPY {table} FROM STDIN") as copy:
                while chunk := spool.read(1 << 20):
                    copy.write(chunk)
            say(f"copied {counts[label]:,} {label} in {time.monotonic() - step:.1f}s")
    return counts
