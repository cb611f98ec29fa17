"""A sending history for the demo: sent campaigns with what Brevo reported about each recipient.

Engagement criteria ("opened one of these", "not engaged in 90 days"), follow-ups and their
counts only mean something on a database that has sent campaigns, and at a million users they
must be measured on a ledger of realistic size and shape (about 20M rows for 20 campaigns).
`seed_demo --history N` adds N sent campaigns, one every nine days going back from two days
ago, each to most of the people who could be emailed at the time (joined before it, verified,
not opted out, address not suppressed then), with the ledger's tracking fields filled as the
tracking service leaves them: delivered, soft bounces, human opens (first time, count),
machine opens (Apple Mail Privacy Protection and the like: first time, count), clicks (a click
is an open too), and the latest human engagement.

People differ the way a real list does: about a third never open, most open now and then, a
few open nearly everything; about one in three reads on a client that fetches every image (a
machine open for nearly every delivered message); one opener in seven clicks. Campaign rates
come out near 97 % delivered, 22 % opened by a person, 33 % opened by a machine, 3 % clicked.

Deterministic for a seed and the users present; campaigns are keyed by name ("Demo history
1" is the latest), so a second run adds nothing. The ledger rows are written without the
sending pipeline: on PostgreSQL one COPY per campaign (text made here, a few seconds of Python
per million rows; the server's index maintenance is most of the time), elsewhere bulk inserts.
Tracking events themselves are not invented: the ledger is what criteria and reports read.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction

from accounts.models import Suppression, User
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from demo.rows import Progress

NAME = "Demo history {}"
SUBJECTS = (
    "This week at the club",
    "New homes open for viewing",
    "Your quarterly market update",
    "Events near you this month",
    "Member offers: spring edition",
)
BODY = '<p>Hi {{ first_name | default: "there" }},</p><p>{subject}.</p>'
# Days between campaigns, and how long ago the latest went out.
EVERY_DAYS = 9
LATEST_DAYS_AGO = 2
# Brevo accepts about this many messages a second: a campaign's sent times spread by it.
SEND_RATE = 4_000
# People by how often they open: (share of the list, chance to open a delivered message).
OPENERS = ((0.32, 0.0), (0.38, 0.17), (0.20, 0.45), (0.10, 0.80))
MACHINE_OPENERS = 0.35  # read on a client that fetches every image (Apple Mail Privacy Protection)
CLICKERS = 0.15  # chance an open comes with a click
DELIVERED = 0.975
SOFT_BOUNCED = 0.02  # of the rest; the remainder never reported back
# Rows per bulk insert where COPY is not available.
BATCH = 2_000


@dataclass(frozen=True)
class HistoryReport:
    campaigns: int
    rows: int


@dataclass(frozen=True)
class Person:
    id: int
    email: str
    first_name: str
    last_name: str
    joined: float
    # When they stopped being reachable (opted out, address suppressed); None: still reachable.
    left: float | None
    opens: float
    machine: bool
    clicks: float


def demo_history_ensure(
    *, campaigns: int, seed: int = 0, now: datetime | None = None, progress: Progress | None = None
) -> HistoryReport:
    """Add the sent campaigns "Demo history 1..campaigns" that are missing, with their ledgers."""
    if campaigns < 0:
        raise ValueError("campaigns must be zero or more")
    say = progress or (lambda message: None)
    now = now or datetime.now(UTC).replace(second=0, microsecond=0)
    missing = [
        index for index in range(1, campaigns + 1) if not Campaign.objects.filter(name=NAME.format(index)).exists()
    ]
    if not missing:
        return HistoryReport(campaigns=0, rows=0)
    people = _people(seed)
    rows = 0
    for index in missing:
        step = time.monotonic()
        with transaction.atomic():
            campaign, written = _campaign(index, people, seed=seed, now=now)
        rows += written
        say(f"  campaign “{campaign.name}” sent {campaign.sent_at:%Y-%m-%d}: {written:,} recipients "
            f"in {time.monotonic() - step:.1f}s")  # fmt: skip
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {CampaignRecipient._meta.db_table}")
    return HistoryReport(campaigns=len(missing), rows=rows)


def _people(seed: int) -> list[Person]:
    """Everyone who may have been emailed at some time, with their habits (drawn in id order)."""
    rng = random.Random(f"{seed}:history:people")
    suppressed = {
        email: created.timestamp() for email, created in Suppression.objects.values_list("email", "created_at")
    }
    people = []
    rows = (
        User.objects.filter(is_verified=True, is_active=True)
        .order_by("pk")
        .values_list("pk", "email", "first_name", "last_name", "date_joined", "email_opted_out_at")
    )
    for pk, email, first_name, last_name, joined, opted_out in rows.iterator(chunk_size=10_000):
        left = [at for at in (opted_out and opted_out.timestamp(), suppressed.get(email.lower())) if at]
        people.append(
            Person(
                id=pk,
                email=email,
                first_name=first_name,
                last_name=last_name,
                joined=joined.timestamp(),
                left=min(left) if left else None,
                opens=_open_chance(rng.random()),
                machine=rng.random() < MACHINE_OPENERS,
                clicks=CLICKERS * (0.5 + rng.random()),
            )
        )
    return people


def _open_chance(draw: float) -> float:
    for share, chance in OPENERS:
        if draw < share:
            return chance
        draw -= share
    return OPENERS[-1][1]


def _campaign(index: int, people: list[Person], *, seed: int, now: datetime) -> tuple[Campaign, int]:
    rng = random.Random(f"{seed}:history:{index}")
    started = now - timedelta(days=LATEST_DAYS_AGO + EVERY_DAYS * (index - 1), hours=rng.randrange(0, 8))
    subject = SUBJECTS[index % len(SUBJECTS)]
    # Every other campaign goes to everyone, the others to most of the list.
    share = 1.0 if index % 2 == 1 else rng.uniform(0.8, 0.98)
    # Some subjects interest people more than others.
    appeal = rng.uniform(0.8, 1.2)
    body = BODY.replace("{subject}", subject)
    campaign = Campaign.objects.create(
        name=NAME.format(index),
        subject=subject,
        body_html=body,
        sent_html=body,
        status=CampaignStatus.SENT,
        started_at=started,
        audience_frozen_at=started,
        created_at=started - timedelta(days=1),
    )
    receipts = _receipts(people, rng, start=started.timestamp(), share=share, appeal=appeal, now=now.timestamp())
    write = _copy if connection.vendor == "postgresql" else _insert
    written = write(campaign.pk, receipts)
    sent = CampaignRecipient.objects.filter(campaign=campaign, status=RecipientStatus.SENT).count()
    last = started + timedelta(seconds=written / SEND_RATE)
    Campaign.objects.filter(pk=campaign.pk).update(recipients_total=written, recipient_count=sent, sent_at=last)
    campaign.refresh_from_db()
    return campaign, written


# One receipt: (person, sent, delivered, soft bounced, opened, opens, machine opened, machine
# opens, clicked, clicks, last engaged); times in Unix seconds or None.
Receipt = tuple[Person, float, float | None, float | None, float | None, int, float | None, int, float | None, int,
                float | None]  # fmt: skip


def _receipts(
    people: list[Person], rng: random.Random, *, start: float, share: float, appeal: float, now: float
) -> Iterator[Receipt]:
    """The campaign's recipients in id order, with what happened to each message by `now`."""
    random_ = rng.random
    position = 0
    for person in people:
        if person.joined >= start or (person.left is not None and person.left <= start) or random_() >= share:
            continue
        sent = start + position / SEND_RATE
        position += 1
        draw = random_()
        if draw >= DELIVERED:
            soft = sent + 60 if draw < DELIVERED + SOFT_BOUNCED else None
            yield person, sent, None, soft, None, 0, None, 0, None, 0, None
            continue
        delivered = sent + 2 + 30 * random_()
        machine, machine_count = None, 0
        if person.machine:
            machine = delivered + 5 + 600 * random_()
            machine_count = 1 + (random_() < 0.3)
            if machine >= now:
                machine, machine_count = None, 0
        opened, opens, clicked, clicks, last = None, 0, None, 0, None
        if random_() < person.opens * appeal:
            # Most opens come within hours, a tail over the following week.
            opened = delivered + 60 + 7 * 86400 * random_() ** 4
            if opened < now:
                opens = 1 + int(3 * random_() ** 2)
                last = min(opened + (opens - 1) * 3600 * random_() * 24, now)
                if random_() < person.clicks and opened + 305 < now:
                    clicked = opened + 5 + 300 * random_()
                    clicks = 1 + (random_() < 0.25)
                    last = max(last, clicked)
            else:
                opened = None
        yield person, sent, delivered, None, opened, opens, machine, machine_count, clicked, clicks, last


COLUMNS = (
    "campaign_id", "user_id", "email", "first_name", "last_name", "status", "message_id", "attempts", "last_error",
    "claimed_at", "attempted_at", "sent_at", "delivered_at", "soft_bounced_at", "first_opened_at", "open_count",
    "first_machine_opened_at", "machine_open_count", "first_clicked_at", "click_count", "last_engaged_at",
)  # fmt: skip


def _copy(campaign_id: int, receipts: Iterator[Receipt]) -> int:
    """COPY the receipts as text: formatting a timestamp per day once keeps Python out of the way."""
    days: dict[int, str] = {}

    def when(seconds: float | None) -> str:
        if seconds is None:
            return r"\N"
        whole = int(seconds)
        day, second = divmod(whole, 86400)
        date = days.get(day)
        if date is None:
            date = days[day] = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")
        return f"{date} {second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}+00"

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")

    written = 0
    lines: list[str] = []
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {CampaignRecipient._meta.db_table} ({', '.join(COLUMNS)}) FROM STDIN") as copy,
    ):
        for person, sent, delivered, soft, opened, opens, machine, machine_count, clicked, clicks, last in receipts:
            at = when(sent)
            lines.append(
                f"{campaign_id}\t{person.id}\t{escape(person.email)}\t{escape(person.first_name)}\t"
                f"{escape(person.last_name)}\tSENT\t<demo-{campaign_id}-{person.id}@smtp-relay.mailin.fr>\t1\t\t"
                f"{at}\t{at}\t{at}\t{when(delivered)}\t{when(soft)}\t{when(opened)}\t{opens}\t{when(machine)}\t"
                f"{machine_count}\t{when(clicked)}\t{clicks}\t{when(last)}\n"
            )
            written += 1
            if len(lines) == BATCH:
                copy.write("".join(lines))
                lines.clear()
        if lines:
            copy.write("".join(lines))
    return written


def _insert(campaign_id: int, receipts: Iterator[Receipt]) -> int:
    def when(seconds: float | None) -> datetime | None:
        return None if seconds is None else datetime.fromtimestamp(int(seconds), UTC)

    written = 0
    batch: list[CampaignRecipient] = []
    for person, sent, delivered, soft, opened, opens, machine, machine_count, clicked, clicks, last in receipts:
        batch.append(
            CampaignRecipient(
                campaign_id=campaign_id,
                user_id=person.id,
                email=person.email,
                first_name=person.first_name,
                last_name=person.last_name,
                status=RecipientStatus.SENT,
                message_id=f"<demo-{campaign_id}-{person.id}@smtp-relay.mailin.fr>",
                attempts=1,
                claimed_at=when(sent),
                attempted_at=when(sent),
                sent_at=when(sent),
                delivered_at=when(delivered),
                soft_bounced_at=when(soft),
                first_opened_at=when(opened),
                open_count=opens,
                first_machine_opened_at=when(machine),
                machine_open_count=machine_count,
                first_clicked_at=when(clicked),
                click_count=clicks,
                last_engaged_at=when(last),
            )
        )
        written += 1
        if len(batch) == BATCH:
            CampaignRecipient.objects.bulk_create(batch)
            batch.clear()
    CampaignRecipient.objects.bulk_create(batch)
    return written
