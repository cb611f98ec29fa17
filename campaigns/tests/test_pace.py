"""The sending pace: hourly and daily caps across campaigns, quiet hours, a campaign that waits
and goes on by itself, Brevo's 402 / 403 pausing with the reason and a notice, staff resuming
with nothing lost or doubled. The clock is moved by hand (`pace_clock`)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from campaigns.models import Campaign, CampaignStatus, RecipientStatus, SendingPace
from campaigns.services import (
    campaign_resume,
    campaign_send,
    campaign_send_batch,
    campaign_start,
    campaigns_watchdog,
)
from campaigns.services.notices import campaign_hold_notify
from campaigns.tests import pace_clock
from campaigns.tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def clock(settings, tmp_path, monkeypatch):
    """The pace's clock, at 13:20 in Paris (the site's zone) until the test moves it."""
    monkeypatch.setenv(pace_clock.FILE_VARIABLE, str(tmp_path / "clock"))
    settings.SENDING_CLOCK = pace_clock.PATH
    settings.TIME_ZONE = "Europe/Paris"
    settings.CAMPAIGN_BATCH_SIZE = 3
    pace_clock.set_now(datetime(2030, 3, 5, 13, 20, tzinfo=PARIS))
    return pace_clock


def run_chain(campaign: Campaign) -> None:
    """One batch chain until it ends or waits (enqueues are not run: the test drives)."""
    while campaign_send_batch(campaign_id=campaign.pk) is not None:
        pass


def statuses(campaign: Campaign) -> Counter:
    return Counter(campaign.recipients.values_list("status", flat=True))


def test_the_hourly_cap_holds_a_campaign_until_the_next_hour_then_it_goes_on(clock, settings, audience):
    settings.SENDING_MAX_PER_HOUR = 5
    audience(12)
    campaign = CampaignFactory(status=CampaignStatus.SENDING)
    campaign_start(campaign_id=campaign.pk)

    run_chain(campaign)

    campaign.refresh_from_db()
    assert len(mail.outbox) == 5
    assert campaign.status == CampaignStatus.SENDING
    assert (campaign.waiting_until, campaign.waiting_for) == (
        datetime(2030, 3, 5, 14, 0, tzinfo=PARIS),
        "the hourly cap",
    )
    assert statuses(campaign) == {RecipientStatus.SENT: 5, RecipientStatus.PENDING: 7}

    clock.set_now(datetime(2030, 3, 5, 14, 0, 1, tzinfo=PARIS))
    run_chain(campaign)
    assert len(mail.outbox) == 10
    clock.set_now(datetime(2030, 3, 5, 15, 30, tzinfo=PARIS))
    run_chain(campaign)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert (campaign.waiting_until, campaign.waiting_for) == (None, "")
    assert sorted(Counter(message.to[0] for message in mail.outbox).values()) == [1] * 12


def test_the_progress_endpoint_and_the_admin_say_what_it_waits_for(
    clock, settings, audience, admin_client_api, admin_user
):
    settings.SENDING_MAX_PER_HOUR = 2
    audience(4)
    campaign = CampaignFactory(status=CampaignStatus.SENDING)
    campaign_start(campaign_id=campaign.pk)
    run_chain(campaign)

    progress = admin_client_api.get(f"/api/campaigns/{campaign.pk}/progress/").json()
    staff = Client()
    staff.force_login(admin_user)
    page = staff.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()

    assert progress["status"] == "SENDING"
    assert progress["waiting_for"] == "the hourly cap"
    assert progress["note"] == "Waiting for the hourly cap until 14:00."
    assert "Waiting for the hourly cap until 14:00." in page


def test_caps_are_shared_by_every_campaign(clock, settings, audience):
    settings.SENDING_MAX_PER_HOUR = 4
    audience(5)
    first, second = CampaignFactory(status=CampaignStatus.SENDING), CampaignFactory(status=CampaignStatus.SENDING)
    for campaign in (first, second):
        campaign_start(campaign_id=campaign.pk)
        run_chain(campaign)

    assert len(mail.outbox) == 4
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.recipient_count, second.recipient_count) == (4, 0)
    assert second.waiting_for == "the hourly cap"


def test_the_daily_cap_waits_for_midnight_in_the_sites_zone(clock, settings, audience):
    settings.SENDING_MAX_PER_DAY = 4
    audience(6)
    campaign = CampaignFactory(status=CampaignStatus.SENDING)
    campaign_start(campaign_id=campaign.pk)

    run_chain(campaign)
    clock.set_now(datetime(2030, 3, 5, 23, 59, tzinfo=PARIS))
    run_chain(campaign)

    campaign.refresh_from_db()
    assert len(mail.outbox) == 4
    assert (campaign.waiting_until, campaign.waiting_for) == (datetime(2030, 3, 6, 0, 0, tzinfo=PARIS), "the daily cap")
    clock.set_now(datetime(2030, 3, 6, 0, 0, 1, tzinfo=PARIS))
    run_chain(campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT


def test_no_batch_starts_in_quiet_hours(clock, settings, audience):
    settings.SENDING_QUIET_HOURS = "21:00-08:00"
    audience(2)
    campaign = CampaignFactory(status=CampaignStatus.SENDING)
    campaign_start(campaign_id=campaign.pk)
    clock.set_now(datetime(2030, 3, 5, 22, 30, tzinfo=PARIS))

    run_chain(campaign)
    clock.set_now(datetime(2030, 3, 6, 7, 59, tzinfo=PARIS))
    run_chain(campaign)

    campaign.refresh_from_db()
    assert mail.outbox == []
    assert (campaign.waiting_until, campaign.waiting_for) == (datetime(2030, 3, 6, 8, 0, tzinfo=PARIS), "quiet hours")
    clock.set_now(datetime(2030, 3, 6, 8, 0, tzinfo=PARIS))
    run_chain(campaign)
    assert len(mail.outbox) == 2


def test_the_admins_row_overrides_the_environment(clock, settings, audience, client, admin_user):
    settings.SENDING_MAX_PER_HOUR = 0
    client.force_login(admin_user)
    assert client.get(reverse("admin:campaigns_sendingpace_changelist"))["Location"].endswith("/1/change/")
    saved = client.post(
        reverse("admin:campaigns_sendingpace_change", args=[1]),
        {"max_per_hour": "2", "max_per_day": "", "quiet_from": "", "quiet_until": ""},
    )
    half_quiet = client.post(
        reverse("admin:campaigns_sendingpace_change", args=[1]),
        {"max_per_hour": "2", "max_per_day": "", "quiet_from": "21:00", "quiet_until": ""},
    )
    audience(3)
    campaign = CampaignFactory(status=CampaignStatus.SENDING)
    campaign_start(campaign_id=campaign.pk)

    run_chain(campaign)

    assert saved.status_code == 302
    assert "Give both ends of the quiet hours" in half_quiet.content.decode()
    assert SendingPace.objects.get().quiet_from is None
    assert len(mail.outbox) == 2
    page = client.get(reverse("admin:campaigns_sendingpace_change", args=[1])).content.decode()
    assert "This hour: 2 sent of 2." in page


def test_the_watchdog_leaves_a_waiting_campaign_alone_until_its_time(clock, settings, audience):
    settings.SENDING_MAX_PER_HOUR = 1
    audience(2)
    campaign = CampaignFactory(status=CampaignStatus.SENDING)
    campaign_start(campaign_id=campaign.pk)
    run_chain(campaign)
    stale = timedelta(seconds=settings.CAMPAIGN_STALE_SECONDS + 1)

    before = campaigns_watchdog(now=datetime(2030, 3, 5, 13, 59, tzinfo=PARIS) + stale)
    after = campaigns_watchdog(now=datetime(2030, 3, 5, 14, 0, 1, tzinfo=PARIS) + stale)

    assert before.restarted_campaigns == []
    assert after.restarted_campaigns == [campaign.pk]


def test_refused_addresses_give_their_place_back(clock, settings, audience):
    settings.SENDING_MAX_PER_HOUR = 3
    audience(4)
    campaign = CampaignFactory(status=CampaignStatus.SENDING)
    campaign_start(campaign_id=campaign.pk)
    # An address Brevo refuses, on the person and on the row the snapshot froze alike.
    refused = campaign.recipients.order_by("pk")[0]
    User.objects.filter(pk=refused.user_id).update(email="not-an-address")
    campaign.recipients.filter(pk=refused.pk).update(email="not-an-address")

    run_chain(campaign)

    # The invalid address failed and gave its place back: the fourth recipient went out this hour.
    assert statuses(campaign) == {RecipientStatus.SENT: 3, RecipientStatus.FAILED: 1}


def test_pace_settings_are_checked(settings):
    from django.core.exceptions import ImproperlyConfigured

    from campaigns.services.sending.pace import parse_quiet_hours

    assert parse_quiet_hours("21:00-08:00") == (time(21), time(8))
    assert parse_quiet_hours("") is None
    with pytest.raises(ImproperlyConfigured, match="SENDING_QUIET_HOURS"):
        parse_quiet_hours("9pm to 8am")


# --- Brevo's account-level refusals ----------------------------------------------------------


def test_a_403_pauses_the_campaign_with_the_reason_and_fails_nobody(brevo, settings, audience, admin_user):
    settings.CAMPAIGN_BATCH_SIZE = 3
    settings.NOTICE_FALLBACK_EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    audience(4)
    brevo.forbid_sending("Sender news@example.com is not allowed to send")
    campaign = CampaignFactory(status=CampaignStatus.SENDING, created_by=admin_user)
    campaign_start(campaign_id=campaign.pk)

    run_chain(campaign)
    notified = campaign_hold_notify(campaign_id=campaign.pk)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert campaign.status_reason == (
        "Paused: Brevo does not allow this account or sender to send (Brevo answered 403 permission_denied: "
        "Sender news@example.com is not allowed to send). Nothing was lost: resume once the account is fixed."
    )
    assert statuses(campaign) == {RecipientStatus.PENDING: 5}
    assert campaign.recipients.filter(batch_key__isnull=False).count() == 0
    # Brevo refused the notice too: it went to the fallback outbox instead of being lost.
    assert notified is True
    assert [(message.subject, message.to) for message in mail.outbox] == [
        (f"Campaign paused: {campaign}", ["admin@example.com"])
    ]
    assert "0 of 5 recipients were accepted before it paused" in mail.outbox[0].body


@pytest.mark.django_db(transaction=True)
def test_a_402_pauses_notifies_the_creator_and_a_resume_sends_the_rest_once(
    brevo, settings, audience, admin_user, drain
):
    settings.CAMPAIGN_BATCH_SIZE = 3
    settings.CAMPAIGN_SEND_CONCURRENCY = 1
    settings.NOTICE_FALLBACK_EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    audience(7)
    brevo.set_credits(3)
    campaign = CampaignFactory(created_by=admin_user)

    campaign_send(campaign=campaign, by=admin_user)
    drain()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert campaign.status_reason.startswith(
        "Paused: the Brevo account has no email credits left (Brevo answered 402 not_enough_credits"
    )
    assert statuses(campaign) == {RecipientStatus.SENT: 3, RecipientStatus.PENDING: 5}
    assert [message.subject for message in mail.outbox] == [f"Campaign paused: {campaign}"]
    assert "3 of 8 recipients were accepted before it paused" in mail.outbox[0].body

    brevo.set_credits(None)
    campaign_resume(campaign=campaign)
    drain()

    campaign.refresh_from_db()
    assert (campaign.status, campaign.status_reason) == (CampaignStatus.SENT, "")
    assert statuses(campaign) == {RecipientStatus.SENT: 8}
    accepted = Counter(brevo.accepted_emails())
    assert set(accepted) == set(campaign.recipients.values_list("email", flat=True))
    assert set(accepted.values()) == {1}


def test_a_402_after_an_unanswered_try_keeps_the_batch_under_its_key(brevo, settings, audience):
    settings.CAMPAIGN_BATCH_SIZE = 3
    audience(3)
    brevo.fail_next(1, 500, path_prefix="smtp/email")
    brevo.set_credits(0)
    campaign = CampaignFactory(status=CampaignStatus.SENDING)
    campaign_start(campaign_id=campaign.pk)

    run_chain(campaign)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    # Brevo might have run the unanswered try: never released to go out under a new key.
    assert statuses(campaign) == {RecipientStatus.SENDING: 3}
    assert campaign.recipients.values("batch_key").distinct().count() == 1
