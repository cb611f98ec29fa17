"""The rows the generator yields and the seeder loads, and the one list of user columns.

`DemoUser` is that list: the staging table's columns, the COPY into `accounts_user` and the
`INSERT ... SELECT` from staging are all derived from its fields (and the seed test reads the
seeded users back with them), so a column added here reaches every path at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

Progress = Callable[[str], None]


def demo_email(number: int) -> str:
    """The deterministic address of demo user `number` (1-based)."""
    return f"user{number:07d}@example.com"


def demo_number(email: str) -> int:
    """The number of a demo user from its email (the inverse of `demo_email`)."""
    return int(email[4:-12])


def demo_property_count(users: int) -> int:
    """One property per 2,000 users, at least 5 and at most 500."""
    return min(500, max(5, users // 2000))


def demo_property_code(index: int) -> str:
    return f"DEMO-{index + 1:04d}"


class DemoUser(NamedTuple):
    """One generated user; field order is the staging table's column order. Times are Unix seconds.

    Every field but those in `TRANSLATED_USER_FIELDS` is an `accounts_user` column of the same
    name, copied as it stands."""

    number: int
    email: str
    first_name: str
    last_name: str
    phone: str
    role: str
    is_staff: bool
    membership_status: str
    is_verified: bool
    gender: str
    country: str
    state: str
    referral_source: str
    partnership_status: str
    referrer_email: str
    date_joined: int


# The fields that change on the way in, with their type in the staging table: `number` (the
# position in the stream) orders the ids and is not stored, `referrer_email` becomes
# `referred_by_partner_id`, `date_joined` turns from Unix seconds into a timestamp.
TRANSLATED_USER_FIELDS = {"number": "integer", "referrer_email": "varchar(254)", "date_joined": "bigint"}
# The `accounts_user` columns a DemoUser fills as they stand, in DemoUser order.
USER_COLUMNS = tuple(name for name in DemoUser._fields if name not in TRANSLATED_USER_FIELDS)


class DemoEnrollment(NamedTuple):
    user_email: str
    property_code: str
    agent_email: str | None
    created_at: int


class DemoLead(NamedTuple):
    user_email: str
    agent_email: str | None
    status: str
    created_at: int
    closed_at: int | None


class DemoRecord(NamedTuple):
    user: DemoUser
    enrollments: tuple[DemoEnrollment, ...]
    leads: tuple[DemoLead, ...]
