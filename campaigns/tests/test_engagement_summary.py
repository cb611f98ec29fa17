"""The per-person engagement summary the database keeps from the ledger (triggers) never drifts
from the ledger: after every kind of write it equals a computation from the rows in Python."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.tests.factories import UserFactory
from campaigns.models import Campaign, CampaignRecipient, EngagementSummary, RecipientStatus
from campaigns.tests.engagement_history import History, generate_history
from campaigns.tests.factories import CampaignFactory, CampaignRecipientFactory

pytestmark = pytest.mark.django_db

Summary = dict[int, tuple[datetime | None, datetime | None, datetime | None, set[int], set[int], set[int]]]


def from_ledger() -> Summary:
    """Per person: the latest receipt, the latest receipt of a campaign they opened, the latest
    engagement, and the campaigns they received, opened and clicked, computed row by row."""
    received: dict[tuple[int, int], datetime] = {}
    got: set[tuple[int, int]] = set()
    opened: set[tuple[int, int]] = set()
    clicked: set[tuple[int, int]] = set()
    engaged: dict[int, datetime] = {}
    for row in CampaignRecipient.objects.exclude(user=None):
        key = (row.user_id, row.campaign_id)
        if row.status == RecipientStatus.SENT:
            got.add(key)
            if row.sent_at is not None:
                received[key] = max(received.get(key, row.sent_at), row.sent_at)
        if row.first_opened_at is not None:
            opened.add(key)
        if row.first_clicked_at is not None:
            clicked.add(key)
        if row.last_engaged_at is not None:
            engaged[row.user_id] = max(engaged.get(row.user_id, row.last_engaged_at), row.last_engaged_at)
    latest: dict[int, datetime] = {}
    latest_opened: dict[int, datetime] = {}
    for (user_id, campaign_id), at in received.items():
        latest[user_id] = max(latest.get(user_id, at), at)
        if (user_id, campaign_id) in opened:
            latest_opened[user_id] = max(latest_opened.get(user_id, at), at)

    def campaigns(pairs: set[tuple[int, int]], person: int) -> set[int]:
        return {campaign_id for user_id, campaign_id in pairs if user_id == person}

    people = set(engaged) | {user_id for user_id, _ in got | opened | clicked}
    return {
        person: (
            latest.get(person),
            latest_opened.get(person),
            engaged.get(person),
            campaigns(got, person),
            campaigns(opened, person),
            campaigns(clicked, person),
        )
        for person in people
    }


def kept() -> Summary:
    return {
        row.user_id: (
            row.last_received_at,
            row.last_opened_received_at,
            row.last_engaged_at,
            {int(pk) for pk in row.received_campaigns},
            {int(pk) for pk in row.opened_campaigns},
            {int(pk) for pk in row.clicked_campaigns},
        )
        for row in EngagementSummary.objects.all()
    }


@pytest.fixture
def history() -> History:
    history = generate_history(users=30)
    assert kept() == from_ledger()
    return history


def test_the_history_written_through_sending_and_tracking_is_summarised_exactly(history):
    summary = kept()
    assert len(summary) > 20
    # Some people opened nothing, some opened only old campaigns: the windows need both values.
    assert any(opened is None for _, opened, *_ in summary.values())
    assert any(opened is not None and opened < received for received, opened, *_ in summary.values())
    # Campaign sets of every kind, a click always within the opens.
    assert any(len(received) > 1 for *_, received, _, _ in summary.values())
    assert any(clicked and clicked <= opened for *_, opened, clicked in summary.values())


def test_writes_that_only_raise_values(history):
    now = timezone.now()
    person = history.users[0]
    campaign = CampaignFactory(status="SENDING")
    pending = [
        CampaignRecipientFactory(campaign=campaign, user=user, email=f"n{user.pk}@example.org")
        for user in history.users[:10]
    ]
    assert kept() == from_ledger()  # PENDING rows change nothing
    # Sending: claimed, then accepted (one statement each, as the batch path does).
    ids = [row.pk for row in pending]
    CampaignRecipient.objects.filter(pk__in=ids).update(status=RecipientStatus.SENDING)
    CampaignRecipient.objects.filter(pk__in=ids).update(status=RecipientStatus.SENT, sent_at=now)
    assert kept() == from_ledger()
    # Tracking: an open, a later click.
    CampaignRecipient.objects.filter(pk=ids[0]).update(first_opened_at=now, open_count=1, last_engaged_at=now)
    later = now + timedelta(minutes=5)
    CampaignRecipient.objects.filter(pk=ids[0]).update(first_clicked_at=later, click_count=1, last_engaged_at=later)
    assert kept() == from_ledger()
    # A resend to a new address of a campaign the person opened through another row: that
    # campaign's receipt time moves up, and with it the opened one.
    opened_row = CampaignRecipient.objects.filter(user=person, first_opened_at__isnull=False).first()
    assert opened_row is not None
    CampaignRecipientFactory(
        campaign=opened_row.campaign, user=person, email="moved@example.org", status="SENT", sent_at=later
    )
    assert kept() == from_ledger()


def test_writes_that_lower_values_recompute_the_people_concerned(history):
    rows = CampaignRecipient.objects.exclude(user=None)
    opened = rows.filter(first_opened_at__isnull=False).order_by("pk")
    # Un-opened (a correction), un-sent, sent earlier, given to someone else.
    opened.filter(pk=opened.first().pk).update(first_opened_at=None, last_engaged_at=None, open_count=0)
    clicked = rows.filter(first_clicked_at__isnull=False).order_by("pk")
    clicked.filter(pk=clicked.first().pk).update(first_clicked_at=None, click_count=0)
    sent = rows.filter(status=RecipientStatus.SENT).order_by("-sent_at")
    sent.filter(pk=sent.first().pk).update(status=RecipientStatus.FAILED)
    sent.filter(pk=sent.last().pk).update(sent_at=sent.last().sent_at - timedelta(days=30))
    stranger = UserFactory()
    rows.filter(pk=opened.last().pk).update(user=stranger)
    assert kept() == from_ledger()
    # Erasing a person leaves their rows to nobody.
    erased = history.users[1]
    CampaignRecipient.objects.filter(user=erased).update(user=None)
    assert erased.pk not in kept()
    assert kept() == from_ledger()


def test_deleting_a_campaign_recomputes_its_recipients(history):
    # The services never delete a campaign that sent; the ledger's cascade is covered anyway.
    campaign = history.campaigns[0]
    Campaign.objects.filter(pk=campaign.pk).delete()
    assert not CampaignRecipient.objects.filter(campaign_id=campaign.pk).exists()
    assert kept() == from_ledger()


def test_raw_sql_writes_are_summarised_too(history):
    table = CampaignRecipient._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET last_engaged_at = NULL, first_opened_at = NULL WHERE id % 3 = 0")  # noqa: S608
        cursor.execute(
            f"DELETE FROM {table} WHERE id % 5 = 0 AND NOT EXISTS "  # noqa: S608
            "(SELECT 1 FROM campaigns_trackingevent AS e WHERE e.recipient_id = campaigns_campaignrecipient.id)"
        )
        assert cursor.rowcount > 0
    assert kept() == from_ledger()
