"""The send pipeline end to end: real jobs on the queue, Anymail's real Brevo backend, the fake
Brevo server counting what it accepted. Transactional tests: jobs enqueue after commit."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from uuid import UUID

import django_rq
import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import MembershipStatus, User
from accounts.tests.factories import UserFactory
from campaigns.content import prepare_content
from campaigns.models import Campaign, CampaignStatus, RecipientStatus
from campaigns.services import (
    campaign_cancel,
    campaign_pause,
    campaign_resend,
    campaign_resume,
    campaign_send,
    campaigns_watchdog,
    ledger_insert_audience,
    sending,
)
from campaigns.services.sending import claims, delivery
from campaigns.tests.factories import CampaignFactory, CampaignRecipientFactory
from segments.models import Membership
from segments.tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def ledger(campaign: Campaign) -> Counter:
    return Counter(campaign.recipients.values_list("status", flat=True))


def assert_exactly_once(brevo, campaign: Campaign) -> None:
    """Every recipient SENT was accepted once by Brevo; nobody else was accepted."""
    accepted = Counter(email.lower() for email in brevo.accepted_emails())
    sent = {
        email.lower()
        for email in campaign.recipients.filter(status=RecipientStatus.SENT).values_list("email", flat=True)
    }
    assert set(accepted) == sent
    assert all(times == 1 for times in accepted.values()), [e for e, n in accepted.items() if n > 1]


@pytest.fixture
def small_batches(settings):
    settings.CAMPAIGN_BATCH_SIZE = 3
    settings.CAMPAIGN_SEND_CONCURRENCY = 2
    return settings


# --- The happy paths --------------------------------------------------------------------------


def test_each_batch_logs_one_line_with_its_campaign(brevo, small_batches, admin_user, audience, drain, json_log_lines):
    audience(7)  # and the admin: 8 recipients, batches of 3
    campaign = CampaignFactory()

    campaign_send(campaign=campaign, by=admin_user)
    drain()

    campaign.refresh_from_db()
    lines = json_log_lines("campaigns.services.sending.batches")
    assert len(lines) == len({line["batch_key"] for line in lines}) == 3
    assert {line["campaign_id"] for line in lines} == {campaign.pk}
    assert sum(line["sent"] for line in lines) == campaign.recipient_count == 8
    assert all(line["http_ms"] >= 0 and line["retry"] is False for line in lines)


def test_brevo_gets_one_request_per_batch_with_a_version_per_recipient(
    brevo, small_batches, admin_user, audience, drain
):
    audience(6)
    campaign = CampaignFactory(reply_to="help@example.com", from_email="team@example.com", from_name="Team")

    campaign_send(campaign=campaign, by=admin_user)
    drain()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert campaign.sent_at is not None
    assert campaign.recipient_count == campaign.recipients_total == 7  # six members and the admin
    assert_exactly_once(brevo, campaign)
    calls = brevo.calls("POST", "smtp/email")
    assert len(calls) == 3
    for call in calls:
        body = call["body"]
        assert len(body["messageVersions"]) <= 3
        assert body["sender"] == {"email": "team@example.com", "name": "Team"}
        assert body["replyTo"]["email"] == "help@example.com"
        assert "{{ params.first_name }}" in body["htmlContent"]
        assert body["textContent"].startswith("Hello {{ params.first_name }}")
        assert body["headers"]["idempotencyKey"]
    assert len({call["body"]["headers"]["idempotencyKey"] for call in calls}) == 3
    rows = {row.email: row for row in campaign.recipients.all()}
    for message in brevo.messages:
        row = rows[message["to"]]
        assert row.message_id == message["message_id"]
        assert str(row.batch_key) == message["idempotency_key"]
        assert message["params"]["first_name"] == row.first_name
        assert message["params"]["unsubscribe_url"].startswith("http://testserver/unsubscribe/")
        assert message["headers"]["List-Unsubscribe"] == f"<{message['params']['unsubscribe_url']}>"
        assert message["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_without_brevo_each_recipient_gets_a_message_rendered_locally(small_batches, admin_user, audience, drain):
    members = audience(4)
    User.objects.filter(pk=members[0].pk).update(first_name="<Ann>")
    campaign = CampaignFactory(target_segment=Membership.ACTIVE)

    campaign_send(campaign=campaign, by=admin_user)
    drain()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert len(mail.outbox) == campaign.recipient_count == 5
    by_address = {message.to[0].split("<")[-1].rstrip(">"): message for message in mail.outbox}
    message = by_address[members[0].email]
    html = message.alternatives[0][0]
    assert "Hello &lt;Ann&gt;," in html
    assert 'style="color: #333;"' in html
    assert message.body.startswith("Hello <Ann>,")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    row = campaign.recipients.get(email=members[0].email)
    assert row.message_id == message.extra_headers["Message-ID"]


def test_the_audience_is_preset_and_segment_and_reachable_frozen_at_start(brevo, admin_user, drain, run_some):
    User.objects.filter(pk=admin_user.pk).update(state="Paris")
    london = UserFactory(state="London")
    UserFactory(state="Leeds")
    UserFactory(state="London", is_verified=False)
    UserFactory(state="London", membership_status=MembershipStatus.INACTIVE)
    segment = SegmentFactory(name="Londoners", states=["London"], membership=Membership.ALL, created_by=None)
    campaign = CampaignFactory(target_segment=Membership.ACTIVE, segment=segment)

    campaign_send(campaign=campaign, by=admin_user)
    run_some(1)  # the start job freezes the audience
    UserFactory(state="London")  # joins later: not added
    drain()

    campaign.refresh_from_db()
    assert list(campaign.recipients.values_list("email", flat=True)) == [london.email]
    assert brevo.accepted_emails() == [london.email]
    assert campaign.status == CampaignStatus.SENT


def test_the_ledger_keeps_one_row_per_address_whatever_its_case(admin_user, audience):
    members = audience(3)
    campaign = CampaignFactory(status=CampaignStatus.SENDING)
    CampaignRecipientFactory(campaign=campaign, user=members[0], email=members[0].email.upper())

    first = ledger_insert_audience(campaign=campaign)
    again = ledger_insert_audience(campaign=campaign)

    campaign.refresh_from_db()
    assert (first, again) == (3, 0)
    assert campaign.recipients.count() == 4
    assert campaign.recipients_total == 3


def test_sending_an_empty_audience_is_refused(admin_user):
    User.objects.update(is_verified=False)
    campaign = CampaignFactory()

    with pytest.raises(Exception, match="Nobody in this audience"):
        campaign_send(campaign=campaign, by=admin_user)


# --- Brevo trouble ----------------------------------------------------------------------------


def test_429_waits_for_the_reset_and_retries_the_same_batch(brevo, small_batches, admin_user, audience, drain):
    audience(2)
    brevo.fail_next(1, 429, path_prefix="smtp/email", reset_seconds=1)
    campaign = CampaignFactory()

    campaign_send(campaign=campaign, by=admin_user)
    drain()

    calls = brevo.calls("POST", "smtp/email")
    assert [call["status"] for call in calls] == [429, 201]
    campaign.refresh_from_db()
    assert set(campaign.recipients.values_list("batch_key", flat=True)) == {
        UUID(calls[1]["body"]["headers"]["idempotencyKey"])
    }
    assert ledger(campaign) == {RecipientStatus.SENT: 3}
    assert campaign.recipients.filter(attempts=1).count() == 3  # a 429 is not an attempt against anybody
    assert_exactly_once(brevo, campaign)


def test_a_long_rate_limit_defers_the_batch_instead_of_sleeping(brevo, small_batches, admin_user, audience, drain):
    small_batches.CAMPAIGN_RATE_LIMIT_MAX_WAIT_SECONDS = 0.5
    audience(2)
    brevo.fail_next(1, 429, path_prefix="smtp/email", reset_seconds=30)
    campaign = CampaignFactory()

    campaign_send(campaign=campaign, by=admin_user)
    drain()

    scheduled = django_rq.get_queue("default").scheduled_job_registry
    assert len(scheduled.get_job_ids()) == 1
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING
    assert ledger(campaign) == {RecipientStatus.SENDING: 3}
    job = django_rq.get_queue("default").fetch_job(scheduled.get_job_ids()[0])
    assert job.func_name == "campaigns.jobs.campaign_retry_batch"
    # When it is due, the same batch goes with the same key and the chain carries on.
    django_rq.get_queue("default").enqueue_job(job)
    drain()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    calls = brevo.calls("POST", "smtp/email")
    assert [call["status"] for call in calls] == [429, 201]
    assert_exactly_once(brevo, campaign)


def test_5xx_and_dropped_connections_are_retried_with_the_same_key(brevo, small_batches, admin_user, audience, drain):
    audience(2)
    brevo.fail_next(1, 502, path_prefix="smtp/email")
    brevo.fail_next(1, drop=True, path_prefix="smtp/email")
    campaign = CampaignFactory()

    campaign_send(campaign=campaign, by=admin_user)
    drain()

    calls = brevo.calls("POST", "smtp/email")
    assert [call["fault"] for call in calls] == ["status_502", "drop", None]
    campaign.refresh_from_db()
    assert set(campaign.recipients.values_list("batch_key", flat=True)) == {
        UUID(calls[2]["body"]["headers"]["idempotencyKey"])
    }
    assert campaign.status == CampaignStatus.SENT
    assert campaign.recipients.filter(attempts=1).count() == 3
    assert_exactly_once(brevo, campaign)


def test_an_answer_lost_after_brevo_accepted_is_not_sent_twice(brevo, small_batches, admin_user, audience, drain):
    audience(2)
    brevo.drop_after_accept_next(1)
    campaign = CampaignFactory()

    campaign_send(campaign=campaign, by=admin_user)
    drain()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert ledger(campaign) == {RecipientStatus.SENT: 3}
    assert campaign.recipient_count == 3
    # Brevo refused the repeat as a duplicate: recipients have it, their ids are not known.
    assert set(campaign.recipients.values_list("message_id", flat=True)) == {""}
    assert "duplicate_parameter" in campaign.recipients.first().last_error
    assert_exactly_once(brevo, campaign)


def test_a_timed_out_request_is_retried_with_its_key_and_counted_once(
    brevo, small_batches, admin_user, audience, drain
):
    small_batches.CAMPAIGN_SEND_TIMEOUT_SECONDS = 0.3
    audience(2)
    brevo.fail_next(1, None, path_prefix="smtp/email", delay=1.0)  # slow, then processed anyway
    campaign = CampaignFactory()

    campaign_send(campaign=campaign, by=admin_user)
    drain()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert campaign.recipient_count == 3
    assert_exactly_once(brevo, campaign)


def test_an_invalid_address_fails_alone_before_sending(brevo, small_batches, admin_user, audience, drain):
    audience(2)
    bad = UserFactory(email="someone@localhost")
    campaign = CampaignFactory()

    campaign_send(campaign=campaign, by=admin_user)
    drain()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    row = campaign.recipients.get(email=bad.email)
    assert row.status == RecipientStatus.FAILED
    assert "cannot send to" in row.last_error
    assert ledger(campaign) == {RecipientStatus.SENT: 3, RecipientStatus.FAILED: 1}
    assert_exactly_once(brevo, campaign)


def test_an_address_brevo_refuses_is_split_out_and_the_rest_resent_under_a_new_key(
    brevo, small_batches, admin_user, audience, drain, monkeypatch
):
    monkeypatch.setattr(delivery, "address_problem", lambda row: None)  # let Brevo be the judge
    audience(1)
    bad = UserFactory(email="someone@localhost")
    campaign = CampaignFactory()

    campaign_send(campaign=campaign, by=admin_user)
    drain()

    calls = brevo.calls("POST", "smtp/email")
    assert [call["status"] for call in calls] == [400, 201]
    assert calls[0]["body"]["headers"]["idempotencyKey"] != calls[1]["body"]["headers"]["idempotencyKey"]
    assert "messageVersions[" in campaign.recipients.get(email=bad.email).last_error
    row = campaign.recipients.get(email=bad.email)
    assert row.status == RecipientStatus.FAILED
    assert "messageVersions[" in row.last_error
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert ledger(campaign) == {RecipientStatus.SENT: 2, RecipientStatus.FAILED: 1}
    assert_exactly_once(brevo, campaign)


def test_a_campaign_level_refusal_fails_the_campaign_with_the_reason(brevo, small_batches, admin_user, audience, drain):
    small_batches.ANYMAIL = {**small_batches.ANYMAIL, "BREVO_API_KEY": "wrong-key"}
    audience(5)
    campaign = CampaignFactory()

    campaign_send(campaign=campaign, by=admin_user)
    drain()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FAILED
    assert "401" in campaign.status_reason
    assert ledger(campaign) == {RecipientStatus.FAILED: 6}
    assert brevo.accepted_emails() == []
    # Fixed by the operator: the failed recipients go again.
    small_batches.ANYMAIL = {**small_batches.ANYMAIL, "BREVO_API_KEY": brevo.api_key}
    result = campaign_resend(campaign=campaign, failed=True)
    drain()
    campaign.refresh_from_db()
    assert (result.requeued, campaign.status) == (6, CampaignStatus.SENT)
    assert_exactly_once(brevo, campaign)


def test_ten_percent_of_calls_failing_in_every_way_still_sends_each_recipient_once(
    brevo, settings, admin_user, audience, drain
):
    settings.CAMPAIGN_BATCH_SIZE = 4
    settings.CAMPAIGN_SEND_TIMEOUT_SECONDS = 0.5
    settings.CAMPAIGN_SEND_ATTEMPTS = 2  # give up early so the watchdog path runs too
    audience(79)
    brevo.fail_randomly(
        0.07, (429, 500, 503), path_prefix="smtp/email", drop_rate=0.03, delay_rate=0.05, delay=1.0, seed=7
    )
    campaign = CampaignFactory()

    campaign_send(campaign=campaign, by=admin_user)
    drain()
    for _ in range(20):
        campaign.refresh_from_db()
        if campaign.status == CampaignStatus.SENT:
            break
        campaigns_watchdog(now=later(settings.CAMPAIGN_STALE_SECONDS + 1))
        drain()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert ledger(campaign) == {RecipientStatus.SENT: 80}
    assert campaign.recipient_count == 80
    faults = Counter(call["fault"] for call in brevo.calls("POST", "smtp/email"))
    assert faults[None] >= 20
    assert sum(faults.values()) > faults[None]
    assert_exactly_once(brevo, campaign)


# --- Pause, resume, cancel ----------------------------------------------------------------------


def test_pause_stops_claiming_and_resume_finishes_the_rest(brevo, small_batches, admin_user, audience, drain, run_some):
    small_batches.CAMPAIGN_SEND_CONCURRENCY = 1
    audience(8)
    campaign = CampaignFactory()

    campaign_send(campaign=campaign, by=admin_user)
    run_some(2)  # start job and one batch
    campaign_pause(campaign=campaign)
    drain()

    assert len(brevo.accepted_emails()) == 3
    assert ledger(campaign) == {RecipientStatus.SENT: 3, RecipientStatus.PENDING: 6}
    campaign_resume(campaign=campaign)
    drain()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert_exactly_once(brevo, campaign)
    assert len(brevo.accepted_emails()) == 9


def test_cancel_mid_send_leaves_pending_recipients_unsent(brevo, small_batches, admin_user, audience, drain, run_some):
    small_batches.CAMPAIGN_SEND_CONCURRENCY = 1
    audience(8)
    campaign = CampaignFactory()

    campaign_send(campaign=campaign, by=admin_user)
    run_some(2)
    campaign_cancel(campaign=campaign)
    drain()
    campaigns_watchdog(now=later(small_batches.CAMPAIGN_STALE_SECONDS + 1))
    drain()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    assert ledger(campaign) == {RecipientStatus.SENT: 3, RecipientStatus.CANCELLED: 6}
    assert_exactly_once(brevo, campaign)


# --- Lost jobs ----------------------------------------------------------------------------------


def test_redis_flushed_mid_send_is_recovered_by_the_watchdog(
    brevo, small_batches, admin_user, audience, drain, run_some
):
    audience(10)
    campaign = CampaignFactory()

    campaign_send(campaign=campaign, by=admin_user)
    run_some(2)
    django_rq.get_connection("default").flushdb()
    drain()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING
    assert campaigns_watchdog().restarted_campaigns == []  # not quiet for long enough yet

    report = campaigns_watchdog(now=later(small_batches.CAMPAIGN_STALE_SECONDS + 1))
    drain()

    assert report.restarted_campaigns == [campaign.pk]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert ledger(campaign) == {RecipientStatus.SENT: 11}
    assert_exactly_once(brevo, campaign)


def test_a_start_job_lost_before_the_snapshot_is_run_again(brevo, small_batches, admin_user, audience, drain):
    audience(4)
    campaign = CampaignFactory()

    campaign_send(campaign=campaign, by=admin_user)
    django_rq.get_connection("default").flushdb()
    campaigns_watchdog(now=later(small_batches.CAMPAIGN_STALE_SECONDS + 1))
    drain()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert campaign.recipients_total == 5
    assert_exactly_once(brevo, campaign)


def claim_and_abandon(campaign: Campaign, brevo, *, accepted: bool) -> None:
    """A worker claims a batch, posts it (Brevo may accept it), and dies before recording."""
    sending.campaign_start(campaign_id=campaign.pk)
    django_rq.get_connection("default").flushdb()
    batch = claims.batch_claim(campaign_id=campaign.pk, after_id=0)
    if accepted:
        brevo.fail_next(1, None, path_prefix="smtp/email")  # harmless marker for the log
        message = delivery.brevo_message(
            batch.campaign,
            prepare_content(
                subject=campaign.subject, preheader=campaign.preheader, body_html=campaign.body_html, body_text=""
            ),
            batch.rows,
            batch.key,
            delivery.get_connection(),
        )
        message.send()


def test_a_batch_stuck_in_flight_is_retried_with_its_key_inside_brevos_window(
    brevo, small_batches, admin_user, audience, drain
):
    audience(5)
    campaign = CampaignFactory(status=CampaignStatus.SENDING)
    claim_and_abandon(campaign, brevo, accepted=True)

    report = campaigns_watchdog(now=later(small_batches.CAMPAIGN_STALE_SECONDS + 1))
    drain()

    assert report.retried_batches == 1
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert ledger(campaign) == {RecipientStatus.SENT: 6}
    assert campaign.recipient_count == 6
    assert_exactly_once(brevo, campaign)


def test_a_batch_stuck_past_the_key_window_becomes_unknown_and_is_resent_only_on_request(
    brevo, small_batches, admin_user, audience, drain
):
    audience(5)
    campaign = CampaignFactory(status=CampaignStatus.SENDING)
    claim_and_abandon(campaign, brevo, accepted=False)

    report = campaigns_watchdog(now=later(small_batches.CAMPAIGN_IDEMPOTENCY_WINDOW_SECONDS + 1))
    drain()

    assert report.unknown_recipients == 3
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert ledger(campaign) == {RecipientStatus.SENT: 3, RecipientStatus.UNKNOWN: 3}
    assert "may or may not" in campaign.recipients.filter(status=RecipientStatus.UNKNOWN).first().last_error
    campaign_resend(campaign=campaign, unknown=True)
    drain()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert ledger(campaign) == {RecipientStatus.SENT: 6}
    assert_exactly_once(brevo, campaign)


def test_without_brevo_a_stuck_batch_is_never_rewritten_blindly(small_batches, admin_user, audience, drain):
    audience(5)
    campaign = CampaignFactory(status=CampaignStatus.SENDING)
    sending.campaign_start(campaign_id=campaign.pk)
    django_rq.get_connection("default").flushdb()
    claims.batch_claim(campaign_id=campaign.pk, after_id=0)

    campaigns_watchdog(now=later(small_batches.CAMPAIGN_STALE_SECONDS + 1))
    drain()

    assert ledger(campaign) == {RecipientStatus.SENT: 3, RecipientStatus.UNKNOWN: 3}
    assert len(mail.outbox) == 3


def test_resend_new_members_adds_only_people_who_joined_since(brevo, small_batches, admin_user, audience, drain):
    audience(2)
    campaign = CampaignFactory()
    campaign_send(campaign=campaign, by=admin_user)
    drain()
    newcomer = UserFactory()

    result = campaign_resend(campaign=campaign, new_members=True)
    drain()

    campaign.refresh_from_db()
    assert (result.added, campaign.status, campaign.recipients_total) == (1, CampaignStatus.SENT, 4)
    assert brevo.accepted_emails()[-1] == newcomer.email
    assert_exactly_once(brevo, campaign)


def test_a_user_deleted_after_the_snapshot_is_not_sent(brevo, small_batches, admin_user, audience, drain, run_some):
    gone = audience(2)[0]
    campaign = CampaignFactory()
    campaign_send(campaign=campaign, by=admin_user)
    run_some(1)
    gone_email = gone.email
    gone.delete()
    drain()

    # Dropped when its batch was claimed: a deleted user is no longer reachable.
    assert campaign.recipients.get(email=gone_email).status == RecipientStatus.CANCELLED
    assert gone_email not in brevo.accepted_emails()
