"""Retention of tracking events: old processed events go, what they recorded stays.

Events enter as the webhook stores them and are processed by the real service; pruning runs as
the periodic job. Reports are read before and after through the selectors the API and the
admin use.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from campaigns import jobs
from campaigns.models import CampaignRecipient, CampaignStatus, ClickTally, RecipientStatus, TrackingEvent
from campaigns.selectors import campaign_link_clicks, campaign_stats
from campaigns.services import retention
from campaigns.services.tracking import tracking_events_process_pending
from campaigns.services.tracking_intake import IncomingEvent, tracking_events_store
from campaigns.tests.factories import CampaignFactory, CampaignRecipientFactory
from segments.selectors import Criteria, criteria_counts

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
ENGAGEMENT_COLUMNS = (
    "delivered_at",
    "first_opened_at",
    "open_count",
    "first_machine_opened_at",
    "machine_open_count",
    "first_clicked_at",
    "click_count",
    "last_engaged_at",
    "hard_bounced_at",
    "unsubscribed_at",
)


@pytest.fixture
def ledger():
    campaign = CampaignFactory(status=CampaignStatus.SENT)
    rows = []
    for number in range(4):
        user = UserFactory(email=f"reader{number}@example.com")
        rows.append(
            CampaignRecipientFactory(
                campaign=campaign,
                user=user,
                email=user.email,
                status=RecipientStatus.SENT,
                message_id=f"<retention.{number}@smtp-relay.mailin.fr>",
                sent_at=T0,
            )
        )
    return campaign, rows


def store(row: CampaignRecipient, esp_event: str, minutes: int, link: str = "") -> None:
    at = T0 + timedelta(minutes=minutes)
    tracking_events_store(
        events=[
            IncomingEvent(
                event_type=esp_event,
                message_id=row.message_id,
                recipient=row.email,
                timestamp=at,
                click_url=link or None,
                mta_response=None,
                payload={"event": esp_event, "email": row.email, "ts_event": int(at.timestamp()), "link": link},
            )
        ]
    )


def report(campaign) -> tuple:
    """Everything that reads what the events recorded: stats, clicks per link, the ledger's
    engagement columns, and the engagement criteria's counts."""
    ledger_columns = list(campaign.recipients.order_by("id").values_list(*ENGAGEMENT_COLUMNS))
    criteria = [
        {"opened_campaigns": [campaign.pk]},
        {"clicked_campaigns": [campaign.pk]},
        {"not_clicked_campaigns": [campaign.pk]},
        {"engaged_within_days": 3650},
    ]
    counts = [criteria_counts(Criteria(extra=extra)) for extra in criteria]
    return campaign_stats(campaign), campaign_link_clicks(campaign=campaign), ledger_columns, counts


def age(events, days: int) -> None:
    TrackingEvent.objects.filter(pk__in=[event.pk for event in events]).update(
        received_at=timezone.now() - timedelta(days=days)
    )


@pytest.fixture
def history(ledger):
    """A month of events on four recipients: deliveries, opens, clicks on two links (the same
    recipient clicking one link before and after the cutoff), a proxy open, a bounce."""
    campaign, rows = ledger
    spring, summer = "https://example.com/spring", "https://example.com/summer?" + "x" * 3000
    for minutes, row in enumerate(rows[:3]):
        store(row, "delivered", minutes)
        store(row, "opened", 10 + minutes)
        store(row, "click", 20 + minutes, spring)
    store(rows[0], "click", 30, summer)
    store(rows[1], "proxy_open", 31)
    store(rows[3], "hard_bounce", 32)
    # Clicks that stay (recent): one repeat by a recipient whose older clicks are pruned.
    store(rows[0], "click", 40, spring)
    store(rows[2], "opened", 41)
    tracking_events_process_pending()
    events = list(TrackingEvent.objects.order_by("id"))
    recent = events[-2:]
    age(events[:-2], days=91)
    # An unmatched old event is not processed: it stays for a person to look at.
    tracking_events_store(
        events=[IncomingEvent("delivered", "<unknown@smtp-relay.mailin.fr>", "x@example.com", T0, None, None, {})]
    )
    tracking_events_process_pending()
    unmatched = TrackingEvent.objects.get(message_id="<unknown@smtp-relay.mailin.fr>")
    age([unmatched], days=200)
    return campaign, recent, unmatched


def test_pruning_deletes_old_processed_events_and_every_report_stays(history):
    campaign, recent, unmatched = history
    before = report(campaign)
    assert before[1][0] == {"link": "https://example.com/spring", "clicks": 4, "unique_clicks": 3}
    assert [counts.matching for counts in before[3]] == [3, 3, 1, 3]

    deleted = jobs.tracking_events_prune()

    assert deleted == 12
    assert set(TrackingEvent.objects.values_list("pk", flat=True)) == {event.pk for event in recent} | {unmatched.pk}
    assert report(campaign) == before
    assert ClickTally.objects.filter(campaign=campaign).count() == 4


def test_pruning_twice_changes_nothing_more(history):
    campaign, _, _ = history
    jobs.tracking_events_prune()
    after_first = report(campaign)

    assert jobs.tracking_events_prune() == 0
    assert report(campaign) == after_first


@pytest.mark.django_db(transaction=True)
def test_a_long_prune_continues_in_a_job_of_its_own(history, monkeypatch, run_jobs):
    campaign, recent, _ = history
    before = report(campaign)
    monkeypatch.setattr(retention, "PRUNE_BATCH_SIZE", 2)
    monkeypatch.setattr(retention, "PRUNE_TIME_BUDGET_SECONDS", 0.0)

    first = jobs.tracking_events_prune()
    while run_jobs():
        pass

    assert first == 2
    assert TrackingEvent.objects.count() == len(recent) + 1
    assert report(campaign) == before


def test_the_retention_period_is_a_setting(history, settings):
    settings.TRACKING_EVENT_RETENTION_DAYS = 365

    assert jobs.tracking_events_prune() == 0


def test_the_prune_is_registered_with_the_cron_scheduler():
    from rq import cron

    import config.cron  # noqa: F401

    assert jobs.tracking_events_prune in [entry["func"] for entry in cron._job_data_registry]
