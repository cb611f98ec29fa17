"""What `manage.py seed_demo` runs: the demo audience, the demo superuser, and example segments
and draft campaigns.

The rows come from one seeded random stream (`demo.generator.demo_users`), so a given seed and
size always produce the same people, and every row is keyed so a second run adds nothing: users by
email (`user0000001@example.com`, ...), properties by code, enrollments by (user, property), and
leads only for users the run itself inserted. On PostgreSQL a run where none of the demo users
exists yet COPYs straight into the real tables (`demo.fresh_copy`); every other run stages the
rows and moves what is missing set-based (`demo.staging`). A million users load in well under
three minutes on PostgreSQL with every index in place.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, connection, transaction

from accounts.models import Enrollment, Lead, PartnershipStatus, Property, Role, User
from accounts.services import role_groups_sync
from campaigns.models import Campaign
from campaigns.services import campaign_create
from demo.fresh_copy import demo_users_exist, postgres_copy_fresh
from demo.generator import demo_properties, demo_users
from demo.rows import DemoRecord, Progress, demo_email, demo_property_count
from demo.staging import staged_merge
from segments.models import Membership, Segment
from segments.selectors import Criteria
from segments.services import segment_create

ADMIN_EMAIL = "admin@example.com"
# How often the generator reports progress, in users.
PROGRESS_EVERY = 100_000


@dataclass
class SeedReport:
    """What a seeding run did: rows inserted per table, rows in each table after, time taken."""

    users: int
    seed: int
    inserted: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0


def demo_seed(
    *, users: int, seed: int = 0, now: datetime | None = None, progress: Progress | None = None
) -> SeedReport:
    """Insert `users` demo users (with properties, enrollments, leads, referrals and role groups),
    skipping every row that already exists; all or nothing, in one transaction."""
    if users < 0:
        raise ValueError("users must be zero or more")
    say = progress or (lambda message: None)
    started = time.monotonic()
    now = now or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    report = SeedReport(users=users, seed=seed)
    property_count = demo_property_count(users)
    postgres = connection.vendor == "postgresql"
    # One unusable hash for everyone: hashing a password per user would take hours.
    unusable_password = make_password(None)

    step = time.monotonic()
    role_groups_sync()
    say(f"role groups synced in {time.monotonic() - step:.1f}s")
    with transaction.atomic(), connection.cursor() as cursor:
        if postgres:
            _postgres_prepare(cursor)
        before = Property.objects.count()
        Property.objects.bulk_create(demo_properties(seed=seed, count=property_count), ignore_conflicts=True)
        report.inserted["properties"] = Property.objects.count() - before

        records = _reporting(demo_users(users=users, seed=seed, now=now, property_count=property_count), say)
        if postgres and users and not demo_users_exist(cursor, users):
            report.inserted |= postgres_copy_fresh(cursor, records, password=unusable_password, say=say)
        else:
            report.inserted |= staged_merge(cursor, records, postgres=postgres, password=unusable_password, say=say)
        if postgres:
            # SET LOCAL lasts to the end of the outermost transaction, which may be a caller's.
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")
            cursor.execute("SET LOCAL work_mem = DEFAULT")
        step = time.monotonic()
    say(f"committed in {time.monotonic() - step:.1f}s")

    if postgres and any(report.inserted.values()):
        step = time.monotonic()
        with connection.cursor() as cursor:
            # Fresh statistics so the segment queries that follow plan well at once.
            cursor.execute("ANALYZE accounts_user, accounts_user_groups, accounts_enrollment, accounts_lead")
        say(f"analysed the tables in {time.monotonic() - step:.1f}s")

    step = time.monotonic()
    report.totals = {
        "users": User.objects.count(),
        "role groups": User.groups.through.objects.count(),
        "properties": Property.objects.count(),
        "enrollments": Enrollment.objects.count(),
        "leads": Lead.objects.count(),
    }
    say(f"counted the rows in {time.monotonic() - step:.1f}s")
    report.elapsed = time.monotonic() - started
    return report


def _postgres_prepare(cursor: Any) -> None:
    """Lock what the run reads ids from and lift the per-row foreign key checks when allowed."""
    # Room for the hash joins over a million staged rows; reset at commit.
    cursor.execute("SET LOCAL work_mem = '256MB'")
    # Until commit no one may write users or properties or change groups, so every id this run
    # reads stays valid and every id above the run's starting maximum is the run's own.
    cursor.execute("LOCK TABLE accounts_user, accounts_property IN SHARE ROW EXCLUSIVE MODE")
    cursor.execute("LOCK TABLE auth_group IN SHARE MODE")
    cursor.execute("SELECT current_setting('is_superuser') = 'on'")
    row = cursor.fetchone()
    if row and row[0]:
        # Each foreign key is checked by a trigger per row at commit: about five million checks,
        # two minutes of the run at a million users. Every key here comes from a join over rows
        # locked above, so the checks cannot fail; replica mode skips them (as pg_restore's
        # --disable-triggers does). Only superusers may set it; others keep the checks.
        cursor.execute("SET LOCAL session_replication_role = replica")


def _reporting(records: Iterator[DemoRecord], say: Progress) -> Iterator[DemoRecord]:
    started = time.monotonic()
    for record in records:
        yield record
        if record.user.number % PROGRESS_EVERY == 0:
            say(f"  {record.user.number:,} users generated ({time.monotonic() - started:.1f}s)")


def demo_admin_ensure(*, email: str = ADMIN_EMAIL) -> str | None:
    """Create the demo superuser with a random password and return it; None if it already exists."""
    if User.objects.filter(email__iexact=email).exists():
        return None
    password = secrets.token_urlsafe(12)
    try:
        with transaction.atomic():
            User.objects.create_superuser(email=email, password=password, first_name="Demo", last_name="Admin")
    except IntegrityError:
        # Created by a concurrent run between the check and the insert.
        return None
    return password


# --- Example segments and draft campaigns ------------------------------------------------------

_CAMPAIGN_BODY = (
    '<p>Hi {{ first_name | default: "there" }},</p>\n<p>{message}</p>\n'
    '<p style="font-size:12px"><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
)


def demo_examples_ensure(*, by: User) -> tuple[int, int]:
    """Create the example segments and draft campaigns that are missing (by segment name and
    campaign subject), through the segments and campaigns services; returns how many were new."""
    demo = User.objects.filter(email__in=[demo_email(number) for number in range(1, 201)]).order_by("id")
    partners = tuple(
        demo.filter(role=Role.PARTNER, partnership_status=PartnershipStatus.ACTIVE).values_list("id", flat=True)[:3]
    )
    agents = tuple(demo.filter(role=Role.AGENT).values_list("id", flat=True)[:2])
    properties = tuple(Property.objects.filter(code__in=["DEMO-0001", "DEMO-0002"]).values_list("id", flat=True))
    segments = (
        (
            "Active members in California and Texas",
            "Everyone in two US states, active members only.",
            Criteria(countries=("US",), states=("California", "Texas"), membership=Membership.ACTIVE),
        ),
        (
            "UK newsletter sign-ups",
            "Came in through the newsletter, living in the UK.",
            Criteria(countries=("GB",), traffic_sources=("newsletter",)),
        ),
        (
            "Lapsed social sign-ups",
            "Inactive members who arrived from social networks: a win-back audience.",
            Criteria(traffic_sources=("facebook", "instagram", "tiktok"), membership=Membership.INACTIVE),
        ),
        (
            "Referred by our first partners",
            "Users our earliest active partners brought in.",
            Criteria(partners=partners),
        ),
        ("Enrolled in our two flagship properties", "", Criteria(properties=properties)),
        ("Clients of our senior agents", "", Criteria(agents=agents)),
    )
    by_name: dict[str, Segment] = {}
    created_segments = 0
    for name, description, criteria in segments:
        if criteria.is_empty():
            continue  # a nearly empty database has no partners, agents or properties to point at
        existing = Segment.objects.filter(name__iexact=name).first()
        if existing is None:
            existing = segment_create(by=by, name=name, description=description, criteria=criteria)
            created_segments += 1
        by_name[name] = existing

    campaigns = (
        (
            'We miss you, {{ first_name | default: "friend" }}',
            Membership.INACTIVE,
            by_name.get("Lapsed social sign-ups"),
            "A lot has changed since your last visit: new properties, new agents, same team.",
        ),
        (
            "New homes open for viewing this month",
            Membership.ACTIVE,
            by_name.get("Enrolled in our two flagship properties"),
            "Viewings for the next phase open this month. Reply to book a slot with your agent.",
        ),
        (
            "Team update: the quarter in numbers",
            Membership.STAFF,
            None,
            "Sign-ups, enrollments and closed leads for the quarter, with thanks to every team.",
        ),
    )
    created_campaigns = 0
    for subject, target, segment, message in campaigns:
        if Campaign.objects.filter(subject=subject).exists():
            continue
        campaign_create(
            by=by,
            subject=subject,
            body_html=_CAMPAIGN_BODY.replace("{message}", message),
            target_segment=target,
            segment=segment,
        )
        created_campaigns += 1
    return created_segments, created_campaigns
