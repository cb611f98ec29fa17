"""What each of Brevo's tracking events does once processed: the ledger field it sets, opens,
machine opens, clicks and engagement times, and the suppressions and opt-outs that follow bounces,
complaints and unsubscribes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accounts.models import OptOutMethod, Suppression, SuppressionReason, User
from campaigns.models import SubscriptionChange, TrackingEvent, TrackingEventStatus
from campaigns.tests.brevo_webhooks import T0, brevo_event
from segments.selectors import reachable_users

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("every_event_schedules")]


@pytest.mark.parametrize(
    ("esp_event", "field", "suppression"),
    [
        ("delivered", "delivered_at", None),
        ("soft_bounce", "soft_bounced_at", None),
        ("hard_bounce", "hard_bounced_at", SuppressionReason.HARD_BOUNCE),
        ("invalid_email", "hard_bounced_at", SuppressionReason.HARD_BOUNCE),
        ("blocked", "blocked_at", SuppressionReason.BLOCKED),
        ("spam", "complained_at", SuppressionReason.COMPLAINT),
        ("unsubscribe", "unsubscribed_at", SuppressionReason.UNSUBSCRIBE),
        ("unique_opened", "first_opened_at", None),
        ("opened", "first_opened_at", None),
        ("unique_proxy_open", "first_machine_opened_at", None),
        ("proxy_open", "first_machine_opened_at", None),
        ("click", "first_clicked_at", None),
    ],
)
def test_each_event_type_is_recorded_on_the_ledger(post, recipients, run_jobs, esp_event, field, suppression):
    row = recipients[0]
    extra = {"link": "https://example.com/offer"} if esp_event == "click" else {}

    assert post(brevo_event(esp_event, row, **extra)).status_code == 200
    run_jobs()

    row.refresh_from_db()
    assert getattr(row, field) == T0
    untouched = {"delivered_at", "soft_bounced_at", "hard_bounced_at", "blocked_at", "complained_at"} - {field}
    assert all(getattr(row, name) is None for name in untouched)
    assert TrackingEvent.objects.get().status == TrackingEventStatus.PROCESSED
    if suppression is None:
        assert not Suppression.objects.exists()
    else:
        entry = Suppression.objects.get()
        assert (entry.email, entry.reason, entry.source) == (row.email, suppression, f"brevo:{esp_event}")
        assert not reachable_users(User.objects.filter(pk=row.user_id)).exists()


@pytest.mark.parametrize("esp_event", ["request", "deferred", "error"])
def test_events_without_a_ledger_field_are_kept_and_marked_processed(post, recipients, run_jobs, esp_event):
    post(brevo_event(esp_event, recipients[0], reason="mailbox busy"))
    run_jobs()

    event = TrackingEvent.objects.get()
    assert event.status == TrackingEventStatus.PROCESSED
    assert event.recipient_id == recipients[0].pk
    assert event.esp_event == esp_event
    recipients[0].refresh_from_db()
    assert recipients[0].delivered_at is None


def test_opens_count_every_open_and_keep_the_first_time(post, recipients, run_jobs):
    row = recipients[0]
    post(brevo_event("opened", row, at=T0 + timedelta(hours=2)))
    post(brevo_event("unique_opened", row, at=T0))
    post(brevo_event("proxy_open", row, at=T0 + timedelta(hours=1)))
    run_jobs()

    row.refresh_from_db()
    assert row.open_count == 2
    assert row.first_opened_at == T0
    assert (row.machine_open_count, row.first_machine_opened_at) == (1, T0 + timedelta(hours=1))
    assert row.last_engaged_at == T0 + timedelta(hours=2)


def test_machine_opens_are_kept_apart_and_are_not_engagement(post, recipients, run_jobs):
    row = recipients[0]
    post(brevo_event("unique_proxy_open", row, at=T0 + timedelta(minutes=1)))
    post(brevo_event("proxy_open", row, at=T0))
    run_jobs()

    row.refresh_from_db()
    assert (row.machine_open_count, row.first_machine_opened_at) == (2, T0)
    assert (row.open_count, row.first_opened_at, row.last_engaged_at) == (0, None, None)


def test_last_engagement_is_the_latest_human_open_or_click_whatever_the_arrival_order(post, recipients, run_jobs):
    row = recipients[0]
    post(brevo_event("click", row, link="https://example.com/a", at=T0 + timedelta(days=3)))
    post(brevo_event("opened", row, at=T0 + timedelta(days=1)))
    post(brevo_event("proxy_open", row, at=T0 + timedelta(days=9)))
    run_jobs()

    row.refresh_from_db()
    assert row.last_engaged_at == T0 + timedelta(days=3)
    assert row.first_opened_at == T0 + timedelta(days=1)


def test_clicks_keep_the_link_and_imply_an_open(post, recipients, run_jobs):
    row = recipients[0]
    post(brevo_event("click", row, link="https://example.com/a", at=T0 + timedelta(minutes=5)))
    post(brevo_event("click", row, link="https://example.com/b", at=T0 + timedelta(minutes=5)))
    run_jobs()

    row.refresh_from_db()
    assert row.click_count == 2
    assert row.first_clicked_at == T0 + timedelta(minutes=5)
    assert row.first_opened_at == T0 + timedelta(minutes=5)
    assert sorted(TrackingEvent.objects.values_list("link", flat=True)) == [
        "https://example.com/a",
        "https://example.com/b",
    ]


def test_brevo_unsubscribe_opts_the_user_out_like_our_link(post, recipients, run_jobs, campaign):
    row = recipients[0]

    post(brevo_event("unsubscribe", row))
    run_jobs()

    user = User.objects.get(pk=row.user_id)
    assert user.email_opted_out_at == T0
    change = SubscriptionChange.objects.get()
    assert (change.user_id, change.campaign_id, change.method, change.opted_out) == (
        user.pk,
        campaign.pk,
        OptOutMethod.BREVO,
        True,
    )
    row.refresh_from_db()
    assert row.unsubscribed_at == T0


def test_complaint_for_an_address_with_different_case_suppresses_the_user(post, recipients, run_jobs):
    row = recipients[0]
    post(brevo_event("spam", row, email=row.email.upper()))
    run_jobs()

    assert Suppression.objects.get().email == row.email
    assert not reachable_users(User.objects.filter(pk=row.user_id)).exists()
    assert reachable_users(User.objects.filter(pk=recipients[1].user_id)).exists()


def test_suppression_keeps_its_first_reason(post, recipients, run_jobs):
    row = recipients[0]
    post(brevo_event("hard_bounce", row))
    run_jobs()
    post(brevo_event("spam", row, at=T0 + timedelta(minutes=1)))
    run_jobs()

    assert Suppression.objects.get().reason == SuppressionReason.HARD_BOUNCE
