"""A/B tests through the send pipeline: the test share's variants, the wait, the decision once,
the winner to the remainder; pause, resume and cancel in every phase; Redis losing the jobs.
Real jobs on the queue, Anymail's real Brevo backend against the fake Brevo (or the outbox)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import django_rq
import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from accounts.models import User
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from campaigns.services import (
    campaign_cancel,
    campaign_create,
    campaign_decide_winner,
    campaign_pause,
    campaign_resume,
    campaign_send,
    campaigns_decide_due,
    campaigns_watchdog,
)
from core.errors import InvalidInputError

pytestmark = pytest.mark.django_db(transaction=True)

BODY = '<p>Hello {{ first_name }}</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
VARIANT_B = {"subject": "Subject B", "from_name": "Team B", "body_html": "<p>B for {{ first_name }}</p>" + BODY}
WAIT = 30


@pytest.fixture
def small_batches(settings):
    settings.CAMPAIGN_BATCH_SIZE = 4
    settings.CAMPAIGN_SEND_CONCURRENCY = 2
    return settings


def ab_campaign(by: User, *, share: int = 50, **fields) -> Campaign:
    return campaign_create(
        by=by,
        subject="Subject A",
        from_name="Team A",
        body_html=BODY,
        variants=[{}, VARIANT_B],
        ab_test_share=share,
        ab_wait_minutes=WAIT,
        **fields,
    )


def ledger(campaign: Campaign) -> Counter:
    return Counter(campaign.recipients.values_list("status", flat=True))


def after_the_wait():
    return timezone.now() + timedelta(minutes=WAIT, seconds=1)


def accepted(brevo, campaign: Campaign) -> dict[str, tuple[str, str]]:
    """(subject, sender name) Brevo accepted for each address; fails if anyone got two."""
    tag = f"campaign-{campaign.pk}"
    with brevo.lock:
        messages = [message for message in brevo.messages if tag in message["tags"]]
    counts = Counter(message["to"] for message in messages)
    assert all(times == 1 for times in counts.values()), counts.most_common(3)
    return {message["to"]: (message["subject"], message["sender"].get("name")) for message in messages}


def assert_each_got_its_variant(brevo, campaign: Campaign) -> None:
    """Exactly once per SENT row, with the content of the variant its ledger row names."""
    got = accepted(brevo, campaign)
    rows = dict(campaign.recipients.filter(status=RecipientStatus.SENT).values_list("email", "variant"))
    assert set(got) == set(rows)
    expected = {"A": ("Subject A", "Team A"), "B": ("Subject B", "Team B")}
    assert all(got[email] == expected[variant] for email, variant in rows.items())


def open_variant(campaign: Campaign, label: str) -> None:
    """Every test row delivered; those of `label` opened by a person."""
    now = timezone.now()
    tested = CampaignRecipient.objects.filter(campaign=campaign, ab_remainder=False)
    tested.update(delivered_at=now)
    tested.filter(variant=label).update(first_opened_at=now, open_count=1)


def test_test_share_then_the_wait_then_the_winner_to_the_remainder(brevo, small_batches, admin_user, audience, drain):
    audience(19)  # and the admin: 20 recipients, 10 in the test
    campaign = ab_campaign(admin_user)

    campaign_send(campaign=campaign, by=admin_user)
    drain()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.WAITING_FOR_WINNER
    assert abs((campaign.ab_decide_at - timezone.now()) - timedelta(minutes=WAIT)) < timedelta(minutes=1)
    assert ledger(campaign) == {RecipientStatus.SENT: 10, RecipientStatus.HELD: 10}
    assert Counter(campaign.recipients.filter(ab_remainder=False).values_list("variant", flat=True)) == {"A": 5, "B": 5}
    assert_each_got_its_variant(brevo, campaign)
    assert campaigns_decide_due() == []  # not due yet

    open_variant(campaign, "B")
    assert campaigns_decide_due(now=after_the_wait()) == [campaign.pk]
    assert not campaign_decide_winner(campaign_id=campaign.pk, now=after_the_wait())  # once
    drain()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert campaign.ab_winner == "B"
    assert campaign.ab_decision["rule"] == "significant"
    assert campaign.ab_decision["decided_by"] == "automatic"
    assert ledger(campaign) == {RecipientStatus.SENT: 20}
    assert set(campaign.recipients.filter(ab_remainder=True).values_list("variant", flat=True)) == {"B"}
    assert campaign.recipient_count == 20
    assert_each_got_its_variant(brevo, campaign)


def test_no_significant_difference_sends_variant_a_and_says_why(brevo, small_batches, admin_user, audience, drain):
    audience(19)
    campaign = ab_campaign(admin_user)
    campaign_send(campaign=campaign, by=admin_user)
    drain()
    CampaignRecipient.objects.filter(campaign=campaign, ab_remainder=False).update(delivered_at=timezone.now())
    first_b = CampaignRecipient.objects.filter(campaign=campaign, variant="B").order_by("id").first()
    CampaignRecipient.objects.filter(pk=first_b.pk).update(first_opened_at=timezone.now())

    campaigns_decide_due(now=after_the_wait())
    drain()

    campaign.refresh_from_db()
    assert campaign.ab_winner == "A"
    assert campaign.ab_decision["rule"] == "not_significant"
    assert "variant A is sent" in campaign.ab_decision["reason"]
    assert campaign.status == CampaignStatus.SENT
    assert_each_got_its_variant(brevo, campaign)


def test_a_pure_split_sends_everyone_a_variant_without_waiting(brevo, small_batches, admin_user, audience, drain):
    audience(9)
    campaign = ab_campaign(admin_user, share=100)

    campaign_send(campaign=campaign, by=admin_user)
    drain()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert campaign.ab_decide_at is None
    assert Counter(campaign.recipients.values_list("variant", flat=True)) == {"A": 5, "B": 5}
    assert_each_got_its_variant(brevo, campaign)


def test_the_outbox_gets_each_variant_without_brevo(small_batches, admin_user, audience, drain):
    audience(7)
    campaign = ab_campaign(admin_user)
    campaign_send(campaign=campaign, by=admin_user)
    drain()
    open_variant(campaign, "A")
    campaigns_decide_due(now=after_the_wait())
    drain()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    rows = dict(campaign.recipients.values_list("email", "variant"))
    got = {message.to[0].split("<")[-1].rstrip(">"): message for message in mail.outbox}
    assert len(mail.outbox) == len(rows) == 8
    for email, variant in rows.items():
        assert got[email].subject == f"Subject {variant}"
        assert got[email].from_email.startswith(f'"Team {variant}"') or got[email].from_email.startswith(
            f"Team {variant}"
        )
        assert ("B for" in got[email].alternatives[0][0]) is (variant == "B")


def test_too_small_an_audience_is_refused_naming_the_test_share(admin_user, audience):
    audience(2)  # 3 recipients: 20 % is 1, for 2 variants
    campaign = ab_campaign(admin_user, share=20)

    with pytest.raises(InvalidInputError) as refused:
        campaign_send(campaign=campaign, by=admin_user)

    assert refused.value.field == "ab_test_share"
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_cancel_while_waiting_ends_without_the_remainder(brevo, small_batches, admin_user, audience, drain):
    audience(19)
    campaign = ab_campaign(admin_user)
    campaign_send(campaign=campaign, by=admin_user)
    drain()

    campaign_cancel(campaign=campaign)
    assert campaigns_decide_due(now=after_the_wait()) == []
    drain()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    assert campaign.ab_winner == ""
    assert ledger(campaign) == {RecipientStatus.SENT: 10, RecipientStatus.CANCELLED: 10}
    assert len(accepted(brevo, campaign)) == 10


def test_pause_while_waiting_holds_the_decision_and_resume_waits_for_the_same_time(
    brevo, small_batches, admin_user, audience, drain
):
    audience(19)
    campaign = ab_campaign(admin_user)
    campaign_send(campaign=campaign, by=admin_user)
    drain()
    due = Campaign.objects.get(pk=campaign.pk).ab_decide_at

    campaign_pause(campaign=campaign)
    assert campaigns_decide_due(now=after_the_wait()) == []
    campaign_resume(campaign=campaign)
    drain()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.WAITING_FOR_WINNER
    assert campaign.ab_decide_at == due
    assert campaigns_decide_due(now=after_the_wait()) == [campaign.pk]
    drain()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert_each_got_its_variant(brevo, campaign)


def test_pause_and_resume_while_the_test_and_the_remainder_are_sent(
    brevo, small_batches, admin_user, audience, drain, run_some
):
    audience(39)
    campaign = ab_campaign(admin_user)
    campaign_send(campaign=campaign, by=admin_user)
    run_some(3)
    campaign_pause(campaign=campaign)
    drain()
    campaign_resume(campaign=campaign)
    drain()
    campaigns_decide_due(now=after_the_wait())
    run_some(3)
    campaign_pause(campaign=campaign)
    drain()
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.PAUSED
    campaign_resume(campaign=campaign)
    drain()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert ledger(campaign) == {RecipientStatus.SENT: 40}
    assert_each_got_its_variant(brevo, campaign)


def test_redis_flushed_during_the_wait_loses_and_doubles_nothing(brevo, small_batches, admin_user, audience, drain):
    audience(19)
    campaign = ab_campaign(admin_user)
    campaign_send(campaign=campaign, by=admin_user)
    drain()
    django_rq.get_connection("default").flushdb()  # the scheduled decision is gone

    assert campaigns_decide_due(now=after_the_wait()) == [campaign.pk]
    django_rq.get_connection("default").flushdb()  # and the start job the decision queued
    drain()
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENDING
    stale = timezone.now() + timedelta(seconds=settings.CAMPAIGN_STALE_SECONDS + 1)
    assert campaigns_watchdog(now=stale).restarted_campaigns == [campaign.pk]
    drain()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert ledger(campaign) == {RecipientStatus.SENT: 20}
    assert_each_got_its_variant(brevo, campaign)
