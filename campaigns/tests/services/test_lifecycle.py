"""A campaign's life as staff meet it: names, the one empty-audience rule, duplicates, the From
header messages carry. Transactional tests: jobs enqueue after commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import MembershipStatus, User
from accounts.tests.factories import UserFactory
from campaigns.models import AB_WAIT_MINUTES_MAX, CampaignRecipient, CampaignStatus
from campaigns.services import (
    campaign_create,
    campaign_duplicate,
    campaign_send,
    campaign_start_when_due,
    campaign_update,
    campaigns_dispatch_due,
)
from campaigns.tests.factories import CampaignFactory
from core.errors import InvalidInputError
from segments.models import Membership
from segments.tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def soon() -> timezone.datetime:
    return timezone.now() + timedelta(hours=1)


# --- Names ----------------------------------------------------------------------------------


def test_a_campaign_without_a_name_is_named_from_its_subject_in_words(admin_user):
    campaign = campaign_create(
        by=admin_user, subject="{{ first_name }}, our autumn programme is here", body_html="<p>Hi</p>"
    )

    assert campaign.name == "[first name], our autumn programme is here"
    assert str(campaign) == campaign.name


def test_a_given_name_is_kept_and_clearing_it_takes_the_subject_again(admin_user):
    campaign = campaign_create(by=admin_user, name=" Autumn 2026 ", subject="Hi {{ first_name }}", body_html="<p>x</p>")
    assert campaign.name == "Autumn 2026"

    campaign = campaign_update(campaign=campaign, changes={"name": ""})

    assert campaign.name == "Hi [first name]"


# --- One rule for empty audiences -------------------------------------------------------------


def test_send_now_refuses_an_empty_audience_and_says_why(admin_user):
    User.objects.update(is_verified=False)
    campaign = CampaignFactory()

    with pytest.raises(InvalidInputError) as refused:
        campaign_send(campaign=campaign, by=admin_user)

    assert refused.value.field == "segment"
    assert "Nobody in this audience can be emailed" in refused.value.message
    assert "can be emailed (unverified, opted out or suppressed)" in refused.value.message
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_schedule_refuses_an_empty_audience_like_send_now(admin_user):
    User.objects.update(is_verified=False)
    campaign = CampaignFactory()

    with pytest.raises(InvalidInputError, match="Nobody in this audience can be emailed") as refused:
        campaign_send(campaign=campaign, by=admin_user, scheduled_at=soon())

    assert refused.value.field == "segment"
    campaign.refresh_from_db()
    assert (campaign.status, campaign.scheduled_at) == (CampaignStatus.DRAFT, None)


def test_a_contradictory_audience_is_named_as_such(admin_user):
    segment = SegmentFactory(name="Active readers", membership=Membership.ACTIVE, created_by=None)
    UserFactory(membership_status=MembershipStatus.INACTIVE)
    campaign = CampaignFactory(target_segment=Membership.INACTIVE, segment=segment)

    with pytest.raises(InvalidInputError) as refused:
        campaign_send(campaign=campaign, by=admin_user, scheduled_at=soon())

    assert "“Inactive members” and the segment “Active readers”" in refused.value.message
    assert "exclude each other" in refused.value.message


def test_a_scheduled_campaign_whose_audience_emptied_fails_at_due_time_with_the_reason(admin_user, audience, make_due):
    audience(2)
    campaign = CampaignFactory(target_segment=Membership.ACTIVE)
    campaign_send(campaign=campaign, by=admin_user, scheduled_at=soon())
    User.objects.update(membership_status=MembershipStatus.INACTIVE)
    make_due(campaign)

    started = campaign_start_when_due(campaign_id=campaign.pk)

    campaign.refresh_from_db()
    assert started is False
    assert campaign.status == CampaignStatus.FAILED
    assert campaign.status_reason.startswith("Not sent: nobody in the audience could be emailed when it became due.")
    assert "No user matches “Active members”." in campaign.status_reason
    assert not CampaignRecipient.objects.filter(campaign=campaign).exists()
    # The sweep finds nothing left to start, and the campaign never reads "Sent, 0 / 0".
    assert campaigns_dispatch_due() == []
    assert campaign.sent_at is None


def test_the_sweep_applies_the_same_rule(admin_user, audience, make_due):
    audience(1)
    campaign = CampaignFactory()
    campaign_send(campaign=campaign, by=admin_user, scheduled_at=soon())
    User.objects.update(email_opted_out_at=timezone.now())
    make_due(campaign)

    assert campaigns_dispatch_due() == []

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FAILED


def test_an_audience_that_empties_between_the_click_and_the_start_job_fails_the_campaign(admin_user, audience, drain):
    audience(2)
    campaign = CampaignFactory()
    campaign_send(campaign=campaign, by=admin_user)
    User.objects.update(is_verified=False)

    drain()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FAILED
    assert campaign.status_reason == "Not sent: nobody in the audience could be emailed when sending began."
    assert campaign.sent_at is None
    assert len(mail.outbox) == 0


# --- Duplicate -------------------------------------------------------------------------------


def test_duplicate_is_a_draft_with_the_content_sender_and_audience_only(admin_user, manager_user, audience, drain):
    audience(2)
    segment = SegmentFactory(name="Everyone active", membership=Membership.ACTIVE, created_by=None)
    original = campaign_create(
        by=manager_user,
        name="Autumn",
        subject="Hi {{ first_name }}",
        preheader="Inside",
        body_html="<p>Hello</p>",
        body_text="Hello",
        from_name="Team",
        from_email="team@example.com",
        reply_to="help@example.com",
        target_segment=Membership.ACTIVE,
        segment=segment,
    )
    campaign_send(campaign=original, by=admin_user)
    drain()
    original.refresh_from_db()
    assert original.status == CampaignStatus.SENT

    copy = campaign_duplicate(campaign=original, by=admin_user).campaign

    assert copy.pk != original.pk
    assert copy.name == "Copy of Autumn"
    assert (copy.subject, copy.preheader, copy.body_html, copy.body_text) == (
        "Copy of Hi {{ first_name }}",
        "Inside",
        "<p>Hello</p>",
        "Hello",
    )
    assert (copy.from_name, copy.from_email, copy.reply_to) == ("Team", "team@example.com", "help@example.com")
    assert (copy.target_segment, copy.segment_id) == (Membership.ACTIVE, segment.pk)
    assert copy.status == CampaignStatus.DRAFT
    assert copy.created_by == admin_user
    assert (copy.scheduled_at, copy.started_at, copy.sent_at, copy.audience_frozen_at) == (None, None, None, None)
    assert (copy.recipient_count, copy.recipients_total, copy.status_reason) == (0, 0, "")
    assert not copy.recipients.exists()


# --- The From header --------------------------------------------------------------------------


def test_a_from_name_without_an_address_sends_under_the_default_address(admin_user, audience, drain, settings):
    settings.DEFAULT_FROM_EMAIL = "News <news@example.com>"
    audience(1)
    campaign = CampaignFactory(from_name="The Walkthrough Team", from_email="")

    campaign_send(campaign=campaign, by=admin_user)
    drain()

    assert {message.from_email for message in mail.outbox} == {"The Walkthrough Team <news@example.com>"}


def test_brevo_gets_the_from_name_with_the_default_address(brevo, admin_user, audience, drain, settings):
    settings.DEFAULT_FROM_EMAIL = "News <news@example.com>"
    audience(1)
    campaign = CampaignFactory(from_name="The Walkthrough Team", from_email="")

    campaign_send(campaign=campaign, by=admin_user)
    drain()

    [call] = brevo.calls("POST", "smtp/email")
    assert call["body"]["sender"] == {"email": "news@example.com", "name": "The Walkthrough Team"}


@pytest.mark.parametrize("minutes", [0, AB_WAIT_MINUTES_MAX + 1])
def test_the_service_refuses_an_a_b_wait_out_of_range_on_the_field(admin_user, minutes):
    # Whatever calls it (the API and the admin check the range first): a 400 on the field, never
    # the database's constraint failing.
    with pytest.raises(InvalidInputError) as refused:
        campaign_create(
            by=admin_user,
            subject="Hello",
            body_html="<p>Hi</p>",
            variants=[{}, {"subject": "Hello, B"}],
            ab_wait_minutes=minutes,
        )
    assert refused.value.field == "ab_wait_minutes"
