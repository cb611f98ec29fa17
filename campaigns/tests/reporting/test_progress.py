"""Live progress: the numbers, the rate over recent observations, the endpoint's shape,
access and query count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from campaigns.reporting import progress as progress_module
from campaigns.reporting.progress import campaign_progress
from campaigns.tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_samples() -> None:
    """Observations live in the process; a campaign id reused by another test starts afresh."""
    progress_module._samples.clear()


def sending_campaign(*, statuses: dict[str, int], accepted: int | None = None, **fields) -> Campaign:
    """A SENDING campaign whose ledger holds `statuses` rows; `recipient_count` follows SENT."""
    now = timezone.now()
    total = sum(statuses.values())
    campaign = CampaignFactory(
        status=fields.pop("status", CampaignStatus.SENDING),
        started_at=fields.pop("started_at", now - timedelta(seconds=100)),
        audience_frozen_at=now,
        recipients_total=total,
        recipient_count=statuses.get(RecipientStatus.SENT, 0) if accepted is None else accepted,
        **fields,
    )
    rows, number = [], 0
    for status, count in statuses.items():
        for _ in range(count):
            number += 1
            rows.append(CampaignRecipient(campaign=campaign, email=f"r{number}@example.com", status=status))
    CampaignRecipient.objects.bulk_create(rows)
    return campaign


def test_counts_come_from_the_campaign_row_and_the_rare_statuses():
    campaign = sending_campaign(
        statuses={
            RecipientStatus.SENT: 40,
            RecipientStatus.FAILED: 3,
            RecipientStatus.UNKNOWN: 2,
            RecipientStatus.SENDING: 5,
            RecipientStatus.PENDING: 50,
        }
    )

    progress = campaign_progress(campaign=campaign)

    assert (progress.total, progress.accepted, progress.failed, progress.unknown) == (100, 40, 3, 2)
    assert progress.remaining == 55
    assert progress.percent == 45.0
    assert progress.live is True


def test_first_answer_uses_the_average_since_start_then_the_recent_window():
    start = timezone.now()
    campaign = sending_campaign(statuses={RecipientStatus.SENT: 100, RecipientStatus.PENDING: 900}, started_at=start)

    first = campaign_progress(campaign=campaign, now=start + timedelta(seconds=50))
    # 100 accepted in 50 s since the start: 2 / s, and 900 left: 450 s.
    assert (first.rate_per_second, first.eta_seconds) == (2.0, 450)

    # Ten seconds later 300 more were accepted: the current rate is 30 / s, whatever the average.
    Campaign.objects.filter(pk=campaign.pk).update(recipient_count=400)
    campaign.refresh_from_db()
    second = campaign_progress(campaign=campaign, now=start + timedelta(seconds=60))
    assert second.rate_per_second == 30.0
    assert second.eta_seconds == round(600 / 30)


def test_observations_older_than_the_window_are_ignored():
    start = timezone.now()
    campaign = sending_campaign(statuses={RecipientStatus.SENT: 10, RecipientStatus.PENDING: 90}, started_at=start)
    campaign_progress(campaign=campaign, now=start + timedelta(seconds=5))
    Campaign.objects.filter(pk=campaign.pk).update(recipient_count=20)
    campaign.refresh_from_db()
    campaign_progress(campaign=campaign, now=start + timedelta(seconds=100))
    Campaign.objects.filter(pk=campaign.pk).update(recipient_count=30)
    campaign.refresh_from_db()

    # The 5 s observation is 100 s old: only the one 10 s ago counts (10 more in 10 s).
    progress = campaign_progress(campaign=campaign, now=start + timedelta(seconds=110))

    assert progress.rate_per_second == 1.0


def test_paused_and_finished_campaigns_have_no_rate_and_finished_ones_are_not_live():
    paused = sending_campaign(
        statuses={RecipientStatus.SENT: 1, RecipientStatus.PENDING: 1}, status=CampaignStatus.PAUSED
    )
    sent = sending_campaign(statuses={RecipientStatus.SENT: 2}, status=CampaignStatus.SENT)

    assert campaign_progress(campaign=paused).rate_per_second is None
    assert campaign_progress(campaign=paused).live is True
    done = campaign_progress(campaign=sent)
    assert (done.live, done.rate_per_second, done.eta_seconds, done.percent) == (False, None, None, 100.0)


def test_before_the_ledger_is_written_the_numbers_are_zero():
    campaign = CampaignFactory(status=CampaignStatus.SENDING, started_at=timezone.now())

    progress = campaign_progress(campaign=campaign)

    assert (progress.audience_frozen, progress.total, progress.percent, progress.eta_seconds) == (False, 0, 0.0, None)


# --- The endpoint ---------------------------------------------------------------------------


def url(campaign_id: int) -> str:
    return f"/api/campaigns/{campaign_id}/progress/"


def test_endpoint_shape(admin_client_api: APIClient):
    campaign = sending_campaign(
        statuses={RecipientStatus.SENT: 3, RecipientStatus.FAILED: 1, RecipientStatus.PENDING: 6}
    )

    response = admin_client_api.get(url(campaign.pk))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "campaign_id", "status", "live", "audience_frozen", "total", "accepted", "failed", "unknown",
        "cancelled", "remaining", "percent", "rate_per_second", "eta_seconds", "started_at", "sent_at",
        "measured_at", "waiting_until", "waiting_for", "ab_decide_at", "ab_winner", "note",
    }  # fmt: skip
    assert (body["status"], body["total"], body["accepted"], body["failed"], body["remaining"]) == (
        "SENDING", 10, 3, 1, 6,
    )  # fmt: skip


def test_endpoint_reads_two_queries_after_the_role_check(admin_client_api: APIClient, django_assert_num_queries):
    campaign = sending_campaign(statuses={RecipientStatus.SENT: 3, RecipientStatus.PENDING: 6})

    # The role check reads the user's and their group's permissions (2), then the campaign row
    # and the one ledger count (2); the test client authenticates without a query.
    with django_assert_num_queries(4):
        assert admin_client_api.get(url(campaign.pk)).status_code == 200


def test_endpoint_access(api_client: APIClient, make_user):
    campaign = sending_campaign(statuses={RecipientStatus.PENDING: 1})

    assert api_client.get(url(campaign.pk)).status_code == 401
    api_client.force_authenticate(make_user(Role.MANAGER))
    assert api_client.get(url(campaign.pk)).status_code == 403
    api_client.force_authenticate(make_user(Role.ADMIN))
    assert api_client.get(url(424242)).status_code == 404


def test_schema_documents_the_endpoint_and_its_errors(admin_client_api: APIClient):
    schema = admin_client_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    operation = schema["paths"]["/api/campaigns/{id}/progress/"]["get"]
    assert {"200", "401", "403", "404", "429"} <= set(operation["responses"])
    assert "409" not in operation["responses"]
    properties = schema["components"]["schemas"]["CampaignProgress"]["properties"]
    assert properties["rate_per_second"]["nullable"] is True
