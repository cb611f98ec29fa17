"""The repair of `User.reachable`: a flag made wrong behind the database's back (triggers off, as
a restored dump or a race between two transactions could leave it) is found, reported by
direction and mended, on a handful of users and on thousands with every kind of drift at once."""

from __future__ import annotations

import importlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from accounts.jobs import reachability_repair_job
from accounts.models import Suppression, SuppressionReason, User
from accounts.services import reachability_repair, suppression_add
from accounts.tests.factories import UserFactory
from accounts.tests.reachability import by_rule, flags

pytestmark = pytest.mark.django_db


def _flip_behind_the_database(users: list[User]) -> None:
    """Make the flag wrong the way a restored dump or a race could: with the trigger off."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The test's own writes leave deferred foreign key checks pending; ALTER TABLE waits for none.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE accounts_user DISABLE TRIGGER accounts_user_reachable_update")
        else:
            cursor.execute("DROP TRIGGER accounts_user_reachable_update")
        for user in users:
            cursor.execute("UPDATE accounts_user SET reachable = NOT reachable WHERE id = %s", [user.pk])
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE accounts_user ENABLE ALWAYS TRIGGER accounts_user_reachable_update")
        else:
            migration = importlib.import_module("accounts.migrations.0004_reachable")
            cursor.execute(next(sql for sql in migration.SQLITE_FORWARD if "reachable_update" in sql))


def test_repair_reports_and_mends_a_flag_made_wrong_behind_the_databases_back():
    users = [UserFactory() for _ in range(3)] + [UserFactory(is_verified=False)]
    _flip_behind_the_database([users[0], users[3]])
    assert flags() != by_rule()

    assert reachability_repair(dry_run=True).total == 2
    assert flags() != by_rule()

    report = reachability_repair()

    assert (report.wrongly_reachable, report.wrongly_unreachable) == (1, 1)
    assert flags() == by_rule()
    assert reachability_repair().total == 0


def test_repair_command_says_what_it_found_and_whether_it_changed_it():
    users = [UserFactory(), UserFactory()]
    _flip_behind_the_database(users)
    out = io.StringIO()

    call_command("repair_reachability", "--dry-run", stdout=out)
    call_command("repair_reachability", stdout=out)
    call_command("repair_reachability", stdout=out)

    assert out.getvalue().splitlines() == [
        "2 users disagree with the rule (0 marked reachable wrongly, 2 marked unreachable wrongly); "
        "dry run, nothing changed.",
        "2 users disagreed with the rule (0 marked reachable wrongly, 2 marked unreachable wrongly); mended.",
        "Every user's flag agrees with the rule.",
    ]
    assert flags() == by_rule()


def test_repair_runs_hourly_from_cron():
    from rq import cron

    import config.cron  # noqa: F401  (registers its jobs on import)

    registered = {entry["func"]: entry["interval"] for entry in cron._job_data_registry}
    assert registered[reachability_repair_job] == 3600


# --- at scale --------------------------------------------------------------------------------------

POPULATION = 4000
# The triggers that keep the flag (migration 0004_reachable), and how they are enabled there.
TRIGGERS = {
    "accounts_user": ("accounts_user_reachable_insert", "accounts_user_reachable_update"),
    "accounts_suppression": ("accounts_suppression_reachable", "accounts_suppression_reachable_truncate"),
}


@contextmanager
def _triggers_off() -> Iterator[CursorWrapper]:
    """A cursor for raw SQL that neither table's triggers see, as in a dump restored with
    triggers disabled or an operator's `session_replication_role` mistake."""
    with connection.cursor() as cursor:
        # The test's own writes leave deferred foreign key checks pending; ALTER TABLE waits for none.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table, names in TRIGGERS.items():
            for name in names:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {name}")
        yield cursor
        for table, names in TRIGGERS.items():
            for name in names:
                cursor.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name}")


def _drift() -> tuple[int, int]:
    """(wrongly reachable, wrongly unreachable), counted here against the rule from the facts."""
    rule, flag = by_rule(), flags()
    return (
        sum(1 for email, value in flag.items() if value and not rule[email]),
        sum(1 for email, value in flag.items() if not value and rule[email]),
    )


@pytest.mark.postgres
def test_repair_mends_thousands_of_users_drifted_every_way_at_once():
    now = timezone.now()
    User.objects.bulk_create(
        [
            User(
                email=f"Person{number}@Example.com" if number % 3 == 0 else f"person{number}@example.com",
                password="!",
                is_verified=number % 7 != 0,
                email_opted_out_at=now - timedelta(days=number % 30) if number % 11 == 0 else None,
            )
            for number in range(POPULATION)
        ],
        batch_size=1000,
    )
    Suppression.objects.bulk_create(
        [
            Suppression(email=f"person{number}@example.com", reason=SuppressionReason.HARD_BOUNCE)
            for number in range(0, POPULATION, 13)
        ]
        + [Suppression(email=f"stranger{number}@example.com", reason=SuppressionReason.MANUAL) for number in range(200)]
    )
    assert flags() == by_rule()
    assert 0 < sum(flags().values()) < POPULATION

    with _triggers_off() as cursor:
        # Every input of the rule changed, and the flag itself, without the flag following.
        cursor.execute("UPDATE accounts_user SET reachable = NOT reachable WHERE id % 17 = 0")
        cursor.execute("UPDATE accounts_user SET is_verified = NOT is_verified WHERE id % 19 = 0")
        cursor.execute("UPDATE accounts_user SET email_opted_out_at = now() WHERE id % 23 = 0")
        cursor.execute("UPDATE accounts_user SET email_opted_out_at = NULL WHERE id % 29 = 0")
        cursor.execute("UPDATE accounts_user SET email = upper(email) WHERE id % 31 = 0")  # case alone: no drift
        cursor.execute(
            "INSERT INTO accounts_suppression (email, reason, source, note, created_at) "
            "SELECT lower(email), 'COMPLAINT', 'restore', '', now() FROM accounts_user WHERE id % 37 = 0 "
            "ON CONFLICT DO NOTHING"
        )
        cursor.execute("DELETE FROM accounts_suppression WHERE id % 5 = 0")
        cursor.execute("UPDATE accounts_suppression SET email = 'moved-' || email WHERE id % 41 = 0")
    wrongly_reachable, wrongly_unreachable = _drift()
    assert wrongly_reachable > 100
    assert wrongly_unreachable > 100

    found = reachability_repair(dry_run=True)
    assert (found.wrongly_reachable, found.wrongly_unreachable) == (wrongly_reachable, wrongly_unreachable)
    assert _drift() == (wrongly_reachable, wrongly_unreachable)

    out = io.StringIO()
    call_command("repair_reachability", stdout=out)

    assert out.getvalue().startswith(f"{wrongly_reachable + wrongly_unreachable} users disagreed with the rule")
    assert flags() == by_rule()
    assert reachability_repair().total == 0
    # The triggers are back on: the next write keeps the flag again.
    user = User.objects.filter(reachable=True).first()
    assert user is not None
    suppression_add(email=user.email.upper(), reason=SuppressionReason.COMPLAINT, source="brevo")
    assert flags() == by_rule()
