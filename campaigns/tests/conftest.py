"""Fixtures for the campaign tests: an audience, a queue drained to the end, fast back-off, and
Brevo's webhook deliveries with a sent campaign to report on."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.http import HttpResponse
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from campaigns import queue as tracking_queue
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from campaigns.services.sending import delivery
from campaigns.tests.brevo_webhooks import T0, WEBHOOK, webhook_auth
from campaigns.tests.factories import CampaignFactory, CampaignRecipientFactory


@pytest.fixture
def drain(run_jobs: Callable[[], int]) -> Callable[[], int]:
    """Run queued jobs until none is left (jobs enqueue their successors); returns the total."""

    def run() -> int:
        total = 0
        while ran := run_jobs():
            total += ran
        return total

    return run


@pytest.fixture
def run_some(run_jobs: Callable[..., int]) -> Callable[[int], int]:
    """`run_some(n)`: run at most n queued jobs, to stop a send halfway; returns the jobs it ran."""

    def run(count: int) -> int:
        return run_jobs(max_jobs=count)

    return run


@pytest.fixture
def make_due() -> Callable[[Campaign], None]:
    """`make_due(campaign)`: its scheduled time has just passed."""

    def make(campaign: Campaign) -> None:
        Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now() - timedelta(seconds=1))

    return make


@pytest.fixture
def audience(db: None) -> Callable[[int], list[User]]:
    """`audience(n)`: n reachable users (verified, active members)."""

    def make(count: int) -> list[User]:
        return UserFactory.create_batch(count)

    return make


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries wait milliseconds instead of seconds; the waiting itself is not under test."""
    monkeypatch.setattr(delivery, "RETRY_BACKOFF_SECONDS", 0.001)
    monkeypatch.setattr(delivery, "RETRY_BACKOFF_MAX_SECONDS", 0.01)


@pytest.fixture
def every_event_schedules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's first event must schedule its job whatever the previous test did; the
    once-a-second throttle has a test of its own."""
    monkeypatch.setattr(tracking_queue, "SCHEDULE_INTERVAL_SECONDS", 0.0)


@pytest.fixture
def post(client: Any, django_capture_on_commit_callbacks: Any) -> Callable[..., HttpResponse]:
    """`post(payload)`: one delivery of Brevo's tracking webhook (an event, or a list of them)."""

    def send(payload: Any, *, auth: dict[str, str] | None = None) -> HttpResponse:
        headers = webhook_auth() if auth is None else auth
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(WEBHOOK, data=json.dumps(payload), content_type="application/json", **headers)

    return send


@pytest.fixture
def campaign(admin_user: User) -> Campaign:
    return CampaignFactory(
        subject="Spring news", body_html="<p>Hi</p>", status=CampaignStatus.SENT, created_by=admin_user
    )


@pytest.fixture
def recipients(campaign: Campaign, make_user: Callable[..., User]) -> list[CampaignRecipient]:
    """Three sent ledger rows of `campaign`, each with its Brevo message id."""
    rows = []
    for number in range(3):
        user = make_user(email=f"reader{number}@example.com")
        rows.append(
            CampaignRecipientFactory(
                campaign=campaign,
                user=user,
                email=user.email,
                status=RecipientStatus.SENT,
                message_id=f"<202611200900.{1000 + number}@smtp-relay.mailin.fr>",
                sent_at=T0 - timedelta(minutes=1),
            )
        )
    return rows
