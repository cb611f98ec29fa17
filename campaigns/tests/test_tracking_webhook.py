"""Brevo's tracking webhook through Anymail: auth, storing first, processing by a job, duplicates,
unknown message ids, and failures that lose nothing. What each event type does once processed is
in test_tracking_events.py; batched deliveries in test_tracking_batches.py."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.checks import run_checks
from redis.exceptions import ConnectionError as RedisConnectionError

from accounts.models import Suppression, User
from campaigns import jobs
from campaigns import queue as tracking_queue
from campaigns.models import (
    MAX_TRACKING_ATTEMPTS,
    CampaignRecipient,
    SubscriptionChange,
    TrackingEvent,
    TrackingEventStatus,
)
from campaigns.services import tracking as tracking_service
from campaigns.tests.brevo_webhooks import T0, WEBHOOK, brevo_event, queued_jobs, webhook_auth
from campaigns.tests.factories import CampaignRecipientFactory
from segments.selectors import reachable_users

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("every_event_schedules")]

# --- the door ---------------------------------------------------------------------------------


def test_requests_without_basic_auth_are_refused(client, recipients):
    payload = json.dumps(brevo_event("delivered", recipients[0]))

    response = client.post(WEBHOOK, data=payload, content_type="application/json")

    assert response.status_code == 400
    assert not TrackingEvent.objects.exists()


def test_requests_with_a_wrong_secret_are_refused(post, recipients):
    response = post(brevo_event("delivered", recipients[0]), auth=webhook_auth("hook:guess"))

    assert response.status_code == 400
    assert not TrackingEvent.objects.exists()


def test_event_is_stored_as_received_and_processed_by_a_job(post, recipients, run_jobs):
    payload = brevo_event("delivered", recipients[0])

    response = post(payload)

    assert response.status_code == 200
    stored = TrackingEvent.objects.get()
    assert stored.status == TrackingEventStatus.PENDING
    assert stored.payload == payload
    assert (stored.esp_event, stored.event_type, stored.message_id, stored.email) == (
        "delivered",
        "delivered",
        recipients[0].message_id,
        recipients[0].email,
    )
    assert stored.occurred_at == T0

    assert queued_jobs() == 1
    run_jobs()

    stored.refresh_from_db()
    assert stored.status == TrackingEventStatus.PROCESSED
    assert stored.recipient_id == recipients[0].pk
    assert stored.campaign_id == recipients[0].campaign_id
    recipients[0].refresh_from_db()
    assert recipients[0].delivered_at == T0


def test_a_burst_of_events_enqueues_one_job(post, recipients, run_jobs):
    for row in recipients:
        post(brevo_event("delivered", row))

    assert queued_jobs() == 1
    run_jobs()
    assert CampaignRecipient.objects.filter(delivered_at=T0).count() == 3


def test_a_burst_logs_one_line_naming_its_campaigns(post, recipients, run_jobs, campaign, json_log_lines):
    for recipient in recipients:
        post(brevo_event("delivered", recipient))

    run_jobs()

    (line,) = json_log_lines("campaigns.jobs")
    assert (line["processed"], line["unmatched"], line["failed"]) == (3, 0, 0)
    assert line["campaign_ids"] == [campaign.pk]


def test_event_stored_during_a_run_schedules_the_next_run(post, recipients, run_jobs):
    post(brevo_event("delivered", recipients[0]))
    run_jobs()
    post(brevo_event("delivered", recipients[1]))

    assert queued_jobs() == 1
    run_jobs()
    assert CampaignRecipient.objects.filter(delivered_at=T0).count() == 2


def test_a_web_process_asks_redis_at_most_once_per_interval_and_the_job_looks_again(
    post, recipients, run_jobs, monkeypatch
):
    monkeypatch.setattr(tracking_queue, "SCHEDULE_INTERVAL_SECONDS", 60.0)
    monkeypatch.setattr(tracking_queue, "_last_schedule_attempt", -60.0)
    waits = []

    def sleep(seconds):
        # While the job waits for its last look, a third event arrives; this process asked Redis
        # moments ago, so the event schedules nothing and only the last look can see it.
        waits.append(seconds)
        post(brevo_event("delivered", recipients[2]))

    monkeypatch.setattr(jobs.time, "sleep", sleep)
    post(brevo_event("delivered", recipients[0]))
    post(brevo_event("delivered", recipients[1]))
    assert queued_jobs() == 1

    run_jobs()

    assert len(waits) == 1
    assert 59 < waits[0] <= 60
    assert queued_jobs() == 0
    assert CampaignRecipient.objects.filter(delivered_at=T0).count() == 3
    assert set(TrackingEvent.objects.values_list("status", flat=True)) == {TrackingEventStatus.PROCESSED}


def test_event_is_kept_when_redis_is_down_and_the_sweep_processes_it(post, recipients, monkeypatch):
    def broken():
        raise RedisConnectionError("down")

    monkeypatch.setattr(tracking_queue, "default_queue", broken)

    response = post(brevo_event("delivered", recipients[0]))

    assert response.status_code == 200
    assert TrackingEvent.objects.get().status == TrackingEventStatus.PENDING
    monkeypatch.undo()

    jobs.tracking_events_retry()

    assert TrackingEvent.objects.get().status == TrackingEventStatus.PROCESSED
    recipients[0].refresh_from_db()
    assert recipients[0].delivered_at == T0


def test_the_sweep_is_registered_with_the_cron_scheduler():
    from rq import cron

    import config.cron  # noqa: F401

    registered = [entry["func"] for entry in cron._job_data_registry]
    assert jobs.tracking_events_retry in registered


# --- duplicates, unknown ids, failures ---------------------------------------------------------


def test_the_same_event_delivered_twice_counts_once(post, recipients, run_jobs):
    row = recipients[0]
    payload = brevo_event("unique_opened", row)

    assert post(payload).status_code == 200
    run_jobs()
    assert post(payload).status_code == 200
    run_jobs()

    assert TrackingEvent.objects.count() == 1
    row.refresh_from_db()
    assert row.open_count == 1


def test_duplicates_within_one_batch_count_once(post, recipients, run_jobs):
    row = recipients[0]
    for _ in range(3):
        post(brevo_event("click", row, link="https://example.com/a"))
    run_jobs()

    assert TrackingEvent.objects.count() == 1
    row.refresh_from_db()
    assert row.click_count == 1


def test_same_event_at_another_time_is_another_event(post, recipients, run_jobs):
    row = recipients[0]
    post(brevo_event("opened", row, at=T0))
    post(brevo_event("opened", row, at=T0 + timedelta(milliseconds=1)))
    run_jobs()

    row.refresh_from_db()
    assert row.open_count == 2


def test_unknown_message_id_is_kept_and_reported_not_an_error(post, recipients, run_jobs):
    response = post(brevo_event("delivered", None))
    run_jobs()

    assert response.status_code == 200
    event = TrackingEvent.objects.get()
    assert event.status == TrackingEventStatus.UNMATCHED
    assert event.recipient_id is None
    assert event.attempts == 1


def test_hard_bounce_for_unknown_message_still_suppresses_the_address(post, run_jobs, make_user):
    user = make_user(email="nobody@example.com")

    post(brevo_event("hard_bounce", None))
    run_jobs()

    assert TrackingEvent.objects.get().status == TrackingEventStatus.UNMATCHED
    assert Suppression.objects.get().email == "nobody@example.com"
    assert not reachable_users(User.objects.filter(pk=user.pk)).exists()


def test_unsubscribe_for_unknown_message_opts_out_the_user_with_that_address(post, run_jobs, make_user):
    user = make_user(email="nobody@example.com")

    post(brevo_event("unsubscribe", None))
    run_jobs()

    user.refresh_from_db()
    assert user.email_opted_out_at == T0
    assert SubscriptionChange.objects.get().campaign is None


def test_event_arriving_before_its_message_id_was_recorded_is_matched_by_the_sweep(post, recipients, run_jobs):
    row = recipients[0]
    message_id = row.message_id
    CampaignRecipient.objects.filter(pk=row.pk).update(message_id="")
    post(brevo_event("delivered", row, **{"message-id": message_id}))
    run_jobs()
    assert TrackingEvent.objects.get().status == TrackingEventStatus.UNMATCHED

    CampaignRecipient.objects.filter(pk=row.pk).update(message_id=message_id)
    jobs.tracking_events_retry()

    event = TrackingEvent.objects.get()
    assert event.status == TrackingEventStatus.PROCESSED
    assert event.attempts == 2
    row.refresh_from_db()
    assert row.delivered_at == T0


def test_unmatched_events_stop_being_retried_after_max_attempts(post, run_jobs):
    post(brevo_event("delivered", None))
    run_jobs()
    for _ in range(MAX_TRACKING_ATTEMPTS + 2):
        jobs.tracking_events_retry()

    event = TrackingEvent.objects.get()
    assert event.status == TrackingEventStatus.UNMATCHED
    assert event.attempts == MAX_TRACKING_ATTEMPTS


def test_a_failing_event_is_marked_failed_and_does_not_hold_back_the_others(post, recipients, run_jobs, monkeypatch):
    real_record = tracking_service._record

    def record(row, esp_event, at):
        if row.pk == recipients[1].pk:
            raise ValueError("cannot apply this one")
        return real_record(row, esp_event, at)

    monkeypatch.setattr(tracking_service, "_record", record)
    for row in recipients:
        post(brevo_event("delivered", row))

    run_jobs()

    statuses = dict(TrackingEvent.objects.values_list("email", "status"))
    assert statuses == {
        recipients[0].email: TrackingEventStatus.PROCESSED,
        recipients[1].email: TrackingEventStatus.FAILED,
        recipients[2].email: TrackingEventStatus.PROCESSED,
    }
    failed = TrackingEvent.objects.get(status=TrackingEventStatus.FAILED)
    assert "ValueError: cannot apply this one" in failed.error
    assert CampaignRecipient.objects.filter(delivered_at=T0).count() == 2

    monkeypatch.undo()
    jobs.tracking_events_retry()

    failed.refresh_from_db()
    assert failed.status == TrackingEventStatus.PROCESSED
    assert failed.error == ""
    assert CampaignRecipient.objects.filter(delivered_at=T0).count() == 3


def test_event_without_timestamp_is_deduplicated_by_its_payload(post, recipients, run_jobs):
    payload = brevo_event("delivered", recipients[0])
    for key in ("ts", "ts_event", "ts_epoch"):
        del payload[key]

    post(payload)
    post(payload)
    run_jobs()

    event = TrackingEvent.objects.get()
    assert event.occurred_at is None
    recipients[0].refresh_from_db()
    assert recipients[0].delivered_at == event.received_at


def test_message_id_shared_by_several_recipients_matches_by_email(post, campaign, make_user, run_jobs):
    shared = "<202611200900.5000@smtp-relay.mailin.fr>"
    rows = [
        CampaignRecipientFactory(campaign=campaign, user=make_user(), email=f"pair{n}@example.com", message_id=shared)
        for n in range(2)
    ]

    post(brevo_event("delivered", rows[1]))
    run_jobs()

    rows[0].refresh_from_db()
    rows[1].refresh_from_db()
    assert (rows[0].delivered_at, rows[1].delivered_at) == (None, T0)


# --- deployment ---------------------------------------------------------------------------------


def test_deploy_check_refuses_a_missing_webhook_secret(settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": ""}

    errors = [message.id for message in run_checks(include_deployment_checks=True)]

    assert "campaigns.E001" in errors


def test_deploy_check_passes_with_a_secret():
    errors = [message.id for message in run_checks(include_deployment_checks=True)]

    assert "campaigns.E001" not in errors
