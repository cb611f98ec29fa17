"""Demo audience: a realistic, varied, deterministic set of users and what hangs off them.

`demo_seed` is what `manage.py seed_demo` runs. The rows come from one seeded random stream
(`demo_users`), so a given seed and size always produce the same people, and every row is keyed
so a second run adds nothing: users by email (`user0000001@example.com`, ...), properties by
code, enrollments by (user, property), and leads only for users the run itself inserted.

The rows are first staged in temporary tables (PostgreSQL: COPY; other databases: executemany)
and then moved set-based with `INSERT ... SELECT ... ON CONFLICT DO NOTHING`, which resolves
every foreign key (referring partner, agent, property, role group) by join in the database. One
code path therefore serves both backends, and a million users load in well under three minutes
on PostgreSQL with every index in place.
"""

from __future__ import annotations

import random
import secrets
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction
from django.db.models import Max

from accounts.models import (
    BACKOFFICE_ROLES,
    Enrollment,
    Gender,
    Lead,
    LeadStatus,
    MembershipStatus,
    PartnershipStatus,
    Property,
    Role,
    User,
)
from accounts.services import role_groups_sync

ADMIN_EMAIL = "admin@example.com"
# Timestamps spread over this window before "now"; recent months are denser (a growing platform).
JOIN_WINDOW = timedelta(days=730)
# Rows per executemany on backends without COPY: large enough to amortise the round trip,
# small enough to keep memory flat.
STAGE_BATCH_SIZE = 5_000
# How often the generator reports progress, in users.
PROGRESS_EVERY = 100_000

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


# --- What the audience looks like --------------------------------------------------------------


class _Country(NamedTuple):
    code: str
    weight: int
    dialing_code: str
    national_digits: int
    states: tuple[str, ...]


_COUNTRIES = (
    _Country(
        "US",
        28,
        "1",
        10,
        (
            "California",
            "Texas",
            "Florida",
            "New York",
            "Illinois",
            "Pennsylvania",
            "Ohio",
            "Georgia",
            "North Carolina",
            "Michigan",
            "Washington",
            "Arizona",
            "Massachusetts",
            "Colorado",
        ),
    ),
    _Country(
        "GB",
        14,
        "44",
        10,
        (
            "Greater London",
            "South East",
            "North West",
            "West Midlands",
            "Yorkshire and the Humber",
            "Scotland",
            "Wales",
            "Northern Ireland",
        ),
    ),
    _Country("CA", 8, "1", 10, ("Ontario", "Quebec", "British Columbia", "Alberta", "Manitoba", "Nova Scotia")),
    _Country(
        "AU",
        6,
        "61",
        9,
        ("New South Wales", "Victoria", "Queensland", "Western Australia", "South Australia", "Tasmania"),
    ),
    _Country(
        "DE",
        6,
        "49",
        10,
        ("Bavaria", "Berlin", "Hamburg", "Hesse", "North Rhine-Westphalia", "Baden-Württemberg", "Saxony"),
    ),
    _Country(
        "FR",
        5,
        "33",
        9,
        (
            "Île-de-France",
            "Auvergne-Rhône-Alpes",
            "Provence-Alpes-Côte d'Azur",
            "Occitanie",
            "Nouvelle-Aquitaine",
            "Hauts-de-France",
        ),
    ),
    _Country("ES", 4, "34", 9, ("Madrid", "Catalonia", "Andalusia", "Valencia", "Basque Country")),
    _Country("IT", 3, "39", 10, ("Lombardy", "Lazio", "Campania", "Veneto", "Piedmont", "Tuscany")),
    _Country("BR", 5, "55", 11, ("São Paulo", "Rio de Janeiro", "Minas Gerais", "Bahia", "Paraná")),
    _Country("MX", 4, "52", 10, ("Mexico City", "Jalisco", "Nuevo León", "Puebla")),
    _Country("IN", 5, "91", 10, ("Maharashtra", "Karnataka", "Tamil Nadu", "Delhi", "Telangana", "Gujarat")),
    _Country("NG", 3, "234", 10, ("Lagos", "Federal Capital Territory", "Rivers", "Kano", "Oyo")),
    _Country("ZA", 2, "27", 9, ("Gauteng", "Western Cape", "KwaZulu-Natal", "Eastern Cape")),
    _Country("AE", 2, "971", 9, ("Dubai", "Abu Dhabi", "Sharjah")),
)

_FEMALE_NAMES = (
    "Olivia",
    "Emma",
    "Amelia",
    "Sophia",
    "Isabella",
    "Mia",
    "Ava",
    "Charlotte",
    "Grace",
    "Chloe",
    "Emily",
    "Lucy",
    "Hannah",
    "Zoe",
    "Lily",
    "Ella",
    "Maya",
    "Aisha",
    "Priya",
    "Fatima",
    "Leila",
    "Camila",
    "Valentina",
    "Sofia",
    "Lucia",
    "Giulia",
    "Chiara",
    "Léa",
    "Manon",
    "Anna",
    "Lena",
    "Hanna",
    "Chioma",
    "Ngozi",
    "Thandiwe",
    "Ananya",
    "Isla",
    "Ruby",
    "Freya",
    "Nora",
)
_MALE_NAMES = (
    "Liam",
    "Noah",
    "Oliver",
    "James",
    "Elijah",
    "William",
    "Henry",
    "Lucas",
    "Benjamin",
    "Theodore",
    "Jack",
    "Harry",
    "George",
    "Leo",
    "Arthur",
    "Oscar",
    "Mateo",
    "Santiago",
    "Diego",
    "Gabriel",
    "Rafael",
    "Luca",
    "Marco",
    "Lorenzo",
    "Hugo",
    "Louis",
    "Jules",
    "Lukas",
    "Felix",
    "Jonas",
    "Emeka",
    "Tunde",
    "Sipho",
    "Arjun",
    "Rohan",
    "Omar",
    "Yusuf",
    "Ethan",
    "Daniel",
    "Samuel",
)
_LAST_NAMES = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Hill",
    "Campbell",
    "Mitchell",
    "Roberts",
    "Carter",
    "Evans",
    "Turner",
    "Collins",
    "Murphy",
    "Cook",
    "Rogers",
    "Morgan",
    "Patel",
    "Shah",
    "Singh",
    "Kumar",
    "Khan",
    "Ali",
    "Okafor",
    "Adeyemi",
    "Nwosu",
    "Dlamini",
    "Naidoo",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Dubois",
    "Lefèvre",
    "Moreau",
    "Rossi",
    "Russo",
    "Bianchi",
    "Ferrari",
    "Silva",
    "Santos",
    "Oliveira",
    "Pereira",
    "Fernández",
    "González",
    "Sánchez",
    "Kowalski",
    "Nowak",
    "O'Brien",
    "MacDonald",
    "Tanaka",
    "Nguyen",
    "Kim",
)

_TRAFFIC_SOURCES = (
    ("google", 28),
    ("direct", 18),
    ("facebook", 15),
    ("instagram", 12),
    ("newsletter", 8),
    ("tiktok", 5),
    ("linkedin", 4),
    ("youtube", 3),
    ("bing", 2),
    ("", 3),
)
REFERRAL_SOURCE_PARTNER = "partner"
# Share of clients who arrived through a partner (when one already exists).
_REFERRED_SHARE = 0.14
_VERIFIED_SHARE = 0.85
_PHONE_SHARE = 0.94
_ROLES = (
    (Role.CLIENT, 890),
    (Role.AGENT, 40),
    (Role.PARTNER, 35),
    (Role.STAFF, 30),
    (Role.MANAGER, 5),
)
# The first demo users cover every non-client role, so even a tiny run shows the whole cast and
# the stream has agents and (active) partners to attach clients to from the start.
_CAST = (
    (Role.MANAGER, ""),
    (Role.STAFF, ""),
    (Role.AGENT, ""),
    (Role.PARTNER, PartnershipStatus.ACTIVE),
    (Role.AGENT, ""),
    (Role.PARTNER, PartnershipStatus.ACTIVE),
    (Role.STAFF, ""),
    (Role.AGENT, ""),
)
_MEMBERSHIP = ((MembershipStatus.ACTIVE, 78), (MembershipStatus.INACTIVE, 22))
_GENDERS = ((Gender.MALE, 46), (Gender.FEMALE, 46), (Gender.PREFER_NOT_TO_SAY, 3), ("", 5))
_PARTNERSHIP = ((PartnershipStatus.ACTIVE, 80), (PartnershipStatus.PENDING, 12), (PartnershipStatus.SUSPENDED, 8))
# Partners who may have referred someone: pending ones have not started yet.
_REFERRING_PARTNERSHIPS = frozenset({PartnershipStatus.ACTIVE, PartnershipStatus.SUSPENDED})
_ENROLLMENTS_PER_CLIENT = ((0, 50), (1, 32), (2, 12), (3, 6))
_ENROLLMENT_AGENT_SHARE = 0.75
_LEADS_PER_CLIENT = ((0, 60), (1, 30), (2, 10))
_LEAD_STATUS = ((LeadStatus.OPEN, 40), (LeadStatus.CLOSED, 35), (LeadStatus.LOST, 25))
_LEAD_AGENT_SHARE = 0.9

_PROPERTY_PLACES = (
    "Harbour View",
    "Maple Court",
    "Riverside",
    "Oakwood",
    "Kingsbridge",
    "Willow Park",
    "Cedar Heights",
    "Bayfront",
    "Elm Grove",
    "Northgate",
    "Silver Lake",
    "Highfield",
    "Stonebridge",
    "Meadowbrook",
    "Parkside",
    "Lakeside",
    "Westbury",
    "Ashford",
    "Fairview",
    "Brookfield",
    "Hillcrest",
    "Sunset Ridge",
    "Greenwich",
    "Marina Point",
    "Old Town",
    "Canal Side",
    "Orchard Lane",
    "Castle Hill",
    "Pine Hollow",
    "Bridgewater",
    "Southbank",
    "Clifton",
    "Rosewood",
    "Beacon Hill",
    "Summit Crossing",
    "Victoria Quay",
    "Foxglove",
    "Lindenwood",
    "Queensgate",
    "Millbrook",
)
_PROPERTY_KINDS = (
    "Residences",
    "Apartments",
    "Lofts",
    "Villas",
    "Gardens",
    "Tower",
    "Terraces",
    "Suites",
    "Estates",
    "Commons",
    "Place",
    "Homes",
    "Studios",
    "Mews",
)


def _weighted(pairs: Iterable[tuple[Any, int]]) -> tuple[Any, ...]:
    """A lookup table where each value appears `weight` times: one random() picks from it."""
    return tuple(value for value, weight in pairs for _ in range(weight))


# --- The rows ----------------------------------------------------------------------------------


class DemoUser(NamedTuple):
    """One staged user; field order is the staging table's column order. Times are Unix seconds."""

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


def demo_users(*, users: int, seed: int, now: datetime, property_count: int) -> Iterator[DemoRecord]:
    """Yield `users` demo people in order, each with their enrollments and leads.

    Pure and streaming: nothing is kept but the emails of agents and partners seen so far (whom
    later clients are attached to). Times are whole Unix seconds; the database converts them.
    The loop is written for speed (a million iterations): table lookups instead of
    `random.choices`, plain strings instead of enum members, integers instead of datetimes.
    """
    rng = random.Random(seed)
    rand = rng.random
    randrange = rng.randrange
    end = int(now.timestamp())
    window = int(JOIN_WINDOW.total_seconds())
    client, agent_role, partner = Role.CLIENT.value, Role.AGENT.value, Role.PARTNER.value
    female, male = Gender.FEMALE.value, Gender.MALE.value
    open_status = LeadStatus.OPEN.value
    referring = {status.value for status in _REFERRING_PARTNERSHIPS}
    backoffice = {role.value for role in BACKOFFICE_ROLES}
    cast = tuple((str(role), str(partnership)) for role, partnership in _CAST)
    roles = _weighted((str(role), weight) for role, weight in _ROLES)
    memberships = _weighted((str(status), weight) for status, weight in _MEMBERSHIP)
    genders = _weighted((str(gender), weight) for gender, weight in _GENDERS)
    countries = _weighted((country, country.weight) for country in _COUNTRIES)
    sources = _weighted(_TRAFFIC_SOURCES)
    partnerships = _weighted((str(status), weight) for status, weight in _PARTNERSHIP)
    enrollment_counts = _weighted(_ENROLLMENTS_PER_CLIENT)
    lead_counts = _weighted(_LEADS_PER_CLIENT)
    lead_statuses = _weighted((str(status), weight) for status, weight in _LEAD_STATUS)
    any_names = _FEMALE_NAMES + _MALE_NAMES
    last_names = _LAST_NAMES
    property_codes = [demo_property_code(index) for index in range(property_count)]
    agents: list[str] = []
    referrers: list[str] = []

    for number in range(1, users + 1):
        email = "user%07d@example.com" % number  # noqa: UP031 (the fastest formatting here)
        if number <= len(cast):
            role, partnership = cast[number - 1]
        else:
            role = roles[int(rand() * len(roles))]
            partnership = partnerships[int(rand() * len(partnerships))] if role == partner else ""
        gender = genders[int(rand() * len(genders))]
        first_names = _FEMALE_NAMES if gender == female else _MALE_NAMES if gender == male else any_names
        phone = state = country_code = ""
        if rand() > 0.03:
            country = countries[int(rand() * len(countries))]
            country_code = country.code
            if rand() < _PHONE_SHARE:
                digits = country.national_digits
                phone = f"+{country.dialing_code}{randrange(2 * 10 ** (digits - 1), 10**digits)}"
            if rand() > 0.05:
                state = country.states[int(rand() * len(country.states))]
        referrer = ""
        if role == client and referrers and rand() < _REFERRED_SHARE:
            # A few partners bring most referrals.
            referrer = referrers[int(len(referrers) * rand() ** 2)]
            source = REFERRAL_SOURCE_PARTNER
        else:
            source = sources[int(rand() * len(sources))]
        # rand() ** 1.5 leans towards recent sign-ups.
        joined = end - int(window * rand() ** 1.5)
        user = DemoUser(
            number,
            email,
            first_names[int(rand() * len(first_names))],
            last_names[int(rand() * len(last_names))],
            phone,
            role,
            role in backoffice,
            memberships[int(rand() * len(memberships))],
            rand() < _VERIFIED_SHARE,
            gender,
            country_code,
            state,
            source,
            partnership,
            referrer,
            joined,
        )
        enrollments: list[DemoEnrollment] = []
        leads: list[DemoLead] = []
        if role == client:
            # One agent looks after a client: their enrollments and leads.
            agent = agents[int(rand() * len(agents))] if agents else None
            chosen: list[int] = []
            for _ in range(enrollment_counts[int(rand() * len(enrollment_counts))]):
                index = int(property_count * rand() ** 1.6)  # a few popular properties
                if index not in chosen:
                    chosen.append(index)
                    enrolled_agent = agent if rand() < _ENROLLMENT_AGENT_SHARE else None
                    enrolled = joined + int((end - joined) * rand())
                    enrollments.append(DemoEnrollment(email, property_codes[index], enrolled_agent, enrolled))
            for _ in range(lead_counts[int(rand() * len(lead_counts))]):
                created = joined + int((end - joined) * rand())
                status = lead_statuses[int(rand() * len(lead_statuses))]
                closed = created + int((end - created) * rand()) if status != open_status else None
                lead_agent = agent if rand() < _LEAD_AGENT_SHARE else None
                leads.append(DemoLead(email, lead_agent, status, created, closed))
        elif role == agent_role:
            agents.append(email)
        elif role == partner and partnership in referring:
            referrers.append(email)
        yield DemoRecord(user, tuple(enrollments), tuple(leads))


def demo_properties(*, seed: int, count: int) -> list[Property]:
    """The first `count` demo properties (unsaved), named from a seed-shuffled list of places."""
    rng = random.Random(f"{seed}:properties")
    places = list(_PROPERTY_PLACES)
    rng.shuffle(places)
    return [
        Property(
            code=demo_property_code(index),
            name=f"{places[index % len(places)]} {_PROPERTY_KINDS[(index // len(places)) % len(_PROPERTY_KINDS)]}",
        )
        for index in range(count)
    ]


# --- Loading -----------------------------------------------------------------------------------

_STAGE_TABLES = {
    "seed_demo_user": (
        "number integer, email varchar(254), first_name varchar(150), last_name varchar(150), "
        "phone varchar(32), role varchar(16), is_staff boolean, membership_status varchar(16), "
        "is_verified boolean, gender varchar(32), country varchar(2), state varchar(100), "
        "referral_source varchar(50), partnership_status varchar(16), referrer_email varchar(254), "
        "date_joined bigint"
    ),
    "seed_demo_enrollment": (
        "user_email varchar(254), property_code varchar(50), agent_email varchar(254), created_at bigint"
    ),
    "seed_demo_lead": (
        "user_email varchar(254), agent_email varchar(254), status varchar(16), created_at bigint, closed_at bigint"
    ),
}
_STAGE_COLUMNS = {
    "seed_demo_user": DemoUser._fields,
    "seed_demo_enrollment": DemoEnrollment._fields,
    "seed_demo_lead": DemoLead._fields,
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
    buffers: dict[str, list[tuple[Any, ...]]] = {table: [] for table in _STAGE_TABLES}

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
    users = f"""
        INSERT INTO accounts_user (
            password, last_login, is_superuser, email, first_name, last_name, phone, role,
            membership_status, is_verified, gender, country, state, referral_source, partnership_status,
            date_joined, is_active, is_staff, referred_by_partner_id
        )
        SELECT %(password)s, NULL, FALSE, s.email, s.first_name, s.last_name, s.phone, s.role,
            s.membership_status, s.is_verified, s.gender, s.country, s.state, s.referral_source,
            s.partnership_status, {when("s.date_joined")}, TRUE, s.is_staff, {{referrer_id}}
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
        if postgres and users and not _demo_users_exist(cursor, users):
            report.inserted |= _postgres_copy_fresh(cursor, records, password=unusable_password, say=say)
        else:
            report.inserted |= _merge(cursor, records, postgres=postgres, password=unusable_password, say=say)
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


def _merge(
    cursor: Any, records: Iterator[DemoRecord], *, postgres: bool, password: str, say: Progress
) -> dict[str, int]:
    """Stage every row, then move what is missing set-based (ON CONFLICT DO NOTHING); idempotent."""
    for table, columns in _STAGE_TABLES.items():
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
    for table in _STAGE_TABLES:
        cursor.execute(f"DROP TABLE {table}")
    return inserted


def _demo_users_exist(cursor: Any, users: int) -> bool:
    """Whether any user might clash with the demo emails 1..users (a cheap range test on the
    case-insensitive unique index; a false alarm only costs the slower merge)."""
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM accounts_user WHERE lower(email) BETWEEN %s AND %s)",
        [demo_email(1), demo_email(users)],
    )
    row = cursor.fetchone()
    return bool(row and row[0])


def _postgres_copy_fresh(cursor: Any, records: Iterator[DemoRecord], *, password: str, say: Progress) -> dict[str, int]:
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
        columns = ", ".join(_FRESH_USER_COLUMNS)
        with cursor.copy(f"COPY accounts_user ({columns}) FROM STDIN") as copy:
            write_user = copy.write_row
            for user, enrollments, leads in records:
                number = user.number
                write_user(
                    (
                        base + number,
                        password,
                        False,
                        user.email,
                        user.first_name,
                        user.last_name,
                        user.phone,
                        user.role,
                        user.membership_status,
                        user.is_verified,
                        user.gender,
                        user.country,
                        user.state,
                        user.referral_source,
                        user.partnership_status,
                        when(user.date_joined),
                        True,
                        user.is_staff,
                        base + demo_number(user.referrer_email) if user.referrer_email else None,
                    )
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


_FRESH_USER_COLUMNS = (
    "id",
    "password",
    "is_superuser",
    "email",
    "first_name",
    "last_name",
    "phone",
    "role",
    "membership_status",
    "is_verified",
    "gender",
    "country",
    "state",
    "referral_source",
    "partnership_status",
    "date_joined",
    "is_active",
    "is_staff",
    "referred_by_partner_id",
)


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
    from campaigns.models import Campaign
    from campaigns.services import campaign_create
    from segments.models import Membership, Segment
    from segments.selectors import Criteria
    from segments.services import segment_create

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
