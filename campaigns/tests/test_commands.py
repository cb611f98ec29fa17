"""Scheduling (RQ's scheduler and the due sweep) and the operator commands."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import django_rq
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from campaigns.models import CampaignStatus, RecipientStatus
from campaigns.services import campaign_send, campaign_unschedule, campaigns_dispatch_due
from campaigns.tests.factories import CampaignFactory, CampaignRecipientFactory

pytestmark = pytest.mark.django_db(transaction=True)


def scheduled_jobs() -> list:
    queue = django_rq.get_queue("default")
    return [queue.fetch_job(job_id) for job_id in queue.scheduled_job_registry.get_job_ids()]


def test_scheduling_registers_a_job_at_the_time_that_starts_the_campaign_once(
    brevo, admin_user, audience, drain, make_due
):
    audience(2)
    campaign = CampaignFactory()
    when = timezone.now() + timedelta(hours=1)

    campaign_send(campaign=campaign, by=admin_user, scheduled_at=when)

    [job] = scheduled_jobs()
    assert (job.func_name, job.args) == ("campaigns.jobs.campaign_start_when_due", (campaign.pk,))
    assert job.perform() is False  # too early: nothing happens
    make_due(campaign)
    assert job.perform() is True
    assert job.perform() is False  # a second firing finds it SENDING already
    drain()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert len(brevo.accepted_emails()) == len(set(brevo.accepted_emails())) == 3


def test_a_scheduled_campaign_whose_redis_job_was_lost_is_started_by_the_sweep(
    brevo, admin_user, audience, drain, make_due
):
    audience(2)
    campaign = CampaignFactory()
    campaign_send(campaign=campaign, by=admin_user, scheduled_at=timezone.now() + timedelta(minutes=5))
    django_rq.get_connection("default").flushdb()
    make_due(campaign)

    out = StringIO()
    call_command("dispatch_due_campaigns", stdout=out)
    again = campaigns_dispatch_due()
    drain()

    assert f"Started campaigns: {campaign.pk}." in out.getvalue()
    assert again == []
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert sorted(brevo.accepted_emails()) == sorted(set(brevo.accepted_emails()))
    assert len(brevo.accepted_emails()) == 3


def test_an_unscheduled_campaign_is_not_started_by_its_old_job(admin_user, audience, make_due):
    audience(1)
    campaign = CampaignFactory()
    campaign_send(campaign=campaign, by=admin_user, scheduled_at=timezone.now() + timedelta(minutes=5))
    campaign_unschedule(campaign=campaign)
    make_due(campaign)

    [job] = scheduled_jobs()
    assert job.perform() is False
    assert campaigns_dispatch_due() == []
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_dispatch_says_when_nothing_is_due():
    out = StringIO()

    call_command("dispatch_due_campaigns", stdout=out)

    assert out.getvalue().strip() == "No campaign is due."


def test_resend_campaign_requeues_failed_and_unknown_recipients(brevo, admin_user, audience, drain):
    users = audience(3)
    campaign = CampaignFactory(status=CampaignStatus.SENT, audience_frozen_at=timezone.now())
    for user, status in zip(
        users, [RecipientStatus.SENT, RecipientStatus.FAILED, RecipientStatus.UNKNOWN], strict=True
    ):
        CampaignRecipientFactory(campaign=campaign, user=user, email=user.email, status=status)
    out = StringIO()

    call_command("resend_campaign", str(campaign.pk), "--failed", "--unknown", stdout=out)
    drain()

    assert "2 recipients queued again, 0 new members added; status SENDING" in out.getvalue()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert sorted(brevo.accepted_emails()) == sorted([users[1].email, users[2].email])


def test_resend_campaign_new_members(brevo, admin_user, audience, drain):
    users = audience(2)
    campaign = CampaignFactory(status=CampaignStatus.SENT, audience_frozen_at=timezone.now())
    CampaignRecipientFactory(campaign=campaign, user=users[0], email=users[0].email, status="SENT")
    out = StringIO()

    call_command("resend_campaign", str(campaign.pk), "--new-members", stdout=out)
    drain()

    assert "0 recipients queued again, 2 new members added" in out.getvalue()
    assert sorted(brevo.accepted_emails()) == sorted([users[1].email, admin_user.email])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["1"], "Say what to resend"),
        (["999", "--failed"], "No campaign 999"),
    ],
)
def test_resend_campaign_refuses_bad_calls(arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("resend_campaign", *arguments)


def test_resend_campaign_refuses_a_draft_or_a_cancelled_campaign():
    for status in (CampaignStatus.DRAFT, CampaignStatus.CANCELLED):
        campaign = CampaignFactory(status=status)
        with pytest.raises(CommandError, match=f"Cannot resend a campaign that is .*{status}"):
            call_command("resend_campaign", str(campaign.pk), "--failed")
