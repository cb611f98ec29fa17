"""A/B tests under the faults the send pipeline survives: RQ workers as subprocesses, SIGKILLed
mid-request in the test phase and again in the remainder's, Redis flushed during the wait.
PostgreSQL only; run it with your own database and Redis (see test_reliability_postgres)."""

from __future__ import annotations

import os
import signal
from collections import Counter
from datetime import timedelta

import django_rq
import pytest
from django.conf import settings
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus, RecipientStatus
from campaigns.services import campaign_create, campaign_send, campaigns_decide_due, campaigns_watchdog
from campaigns.tests.test_reliability_postgres import spawn_worker, wait_for  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BODY = '<p>Hello {{ first_name }}</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
WORKER = {"CAMPAIGN_BATCH_SIZE": 4, "CAMPAIGN_SEND_CONCURRENCY": 1}


def subjects_accepted(brevo, campaign: Campaign) -> dict[str, str]:
    tag = f"campaign-{campaign.pk}"
    with brevo.lock:
        messages = [message for message in brevo.messages if tag in message["tags"]]
    counts = Counter(message["to"] for message in messages)
    assert max(counts.values()) == 1, counts.most_common(3)
    return {message["to"]: message["subject"] for message in messages}


def kill_mid_request(brevo, spawn, *, accepted_before: int) -> None:
    """A worker posts a batch, Brevo takes 3 s and accepts it, the worker is killed meanwhile;
    the watchdog then retries the batches in flight under their keys and restarts the chains."""
    calls = len(brevo.calls("POST", "smtp/email"))
    brevo.fail_next(1, None, path_prefix="smtp/email", delay=3.0)
    worker = spawn(burst=False, **WORKER)
    wait_for(lambda: len(brevo.calls("POST", "smtp/email")) > calls)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    wait_for(lambda: len(brevo.accepted_emails()) > accepted_before)  # accepted; nobody heard it
    report = campaigns_watchdog(now=timezone.now() + timedelta(seconds=settings.CAMPAIGN_STALE_SECONDS + 1))
    # The killed batch, and in the test phase the other variant's part of its claim, never posted.
    assert report.retried_batches >= 1
    assert spawn(**WORKER).wait(timeout=120) == 0


def test_killed_workers_and_a_flushed_redis_in_every_phase_lose_and_double_nothing(
    brevo,
    spawn_worker,  # noqa: F811  (the fixture imported above)
    admin_user,
    audience,
):
    audience(23)  # and the admin: 24 recipients, 12 in the test
    campaign = campaign_create(
        by=admin_user,
        subject="Subject A",
        body_html=BODY,
        variants=[{}, {"subject": "Subject B"}],
        ab_test_share=50,
        ab_wait_minutes=5,
    )
    campaign_send(campaign=campaign, by=admin_user)

    kill_mid_request(brevo, spawn_worker, accepted_before=0)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.WAITING_FOR_WINNER
    assert Counter(campaign.recipients.values_list("status", flat=True)) == {
        RecipientStatus.SENT: 12,
        RecipientStatus.HELD: 12,
    }
    django_rq.get_connection("default").flushdb()  # the scheduled decision is lost
    assert campaigns_decide_due(now=timezone.now() + timedelta(minutes=6)) == [campaign.pk]

    kill_mid_request(brevo, spawn_worker, accepted_before=12)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert campaign.recipient_count == 24
    got = subjects_accepted(brevo, campaign)
    rows = dict(campaign.recipients.values_list("email", "variant"))
    assert set(got) == set(rows)
    assert all(got[email] == f"Subject {variant}" for email, variant in rows.items())
    assert set(campaign.recipients.filter(ab_remainder=True).values_list("variant", flat=True)) == {campaign.ab_winner}
