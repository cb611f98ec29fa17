"""Reliability with real processes: RQ workers as subprocesses sharing PostgreSQL and Redis with
the test, the fake Brevo counting what it accepted. PostgreSQL only (row locks, SKIP LOCKED).

Run with your database and, for a real Redis, a database number of your own, e.g.
`DATABASE_URL=postgres://postgres@127.0.0.1:5432/audience_camp REDIS_URL=redis://127.0.0.1:6379/5`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Campaign, CampaignStatus, RecipientStatus
from campaigns.services import campaign_resume, campaign_send, campaign_start, campaigns_watchdog
from campaigns.tests import pace_clock
from campaigns.tests.factories import CampaignFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def spawn_worker(brevo) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start `manage.py rqworker` processes on the test's database, Redis and fake Brevo."""
    started: list[subprocess.Popen] = []

    def spawn(*, burst: bool = True, **campaign_settings: object) -> subprocess.Popen:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.RQ_QUEUES["default"]["URL"],
            "BREVO_API_KEY": brevo.api_key,
            "BREVO_API_URL": brevo.base_url,
            "SECRET_KEY": settings.SECRET_KEY,
            "SITE_URL": settings.SITE_URL,
            "LOG_LEVEL": "WARNING",
            **{name: str(value) for name, value in campaign_settings.items()},
        }
        command = [sys.executable, "manage.py", "rqworker", "default", "--worker-class", "rq.worker.SimpleWorker"]
        if burst:
            command.append("--burst")
        process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
        started.append(process)
        return process

    yield spawn
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def assert_each_recipient_once(brevo, campaign: Campaign) -> None:
    campaign.refresh_from_db()
    accepted = Counter(brevo.accepted_emails())
    assert max(accepted.values()) == 1
    sent = set(campaign.recipients.filter(status=RecipientStatus.SENT).values_list("email", flat=True))
    assert set(accepted) == sent
    assert campaign.recipient_count == len(sent)


def test_a_worker_killed_mid_request_loses_and_doubles_nothing(brevo, spawn_worker, admin_user, audience):
    audience(11)
    brevo.fail_next(1, None, path_prefix="smtp/email", delay=3.0)  # Brevo takes 3 s, then accepts
    campaign = CampaignFactory()
    campaign_send(campaign=campaign, by=admin_user)
    worker_settings = {"CAMPAIGN_BATCH_SIZE": 4, "CAMPAIGN_SEND_CONCURRENCY": 1}

    worker = spawn_worker(burst=False, **worker_settings)
    wait_for(lambda: len(brevo.calls("POST", "smtp/email")) == 1)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    wait_for(lambda: len(brevo.accepted_emails()) == 4)  # Brevo accepted; nobody heard the answer

    assert Counter(campaign.recipients.values_list("status", flat=True)) == {
        RecipientStatus.SENDING: 4,
        RecipientStatus.PENDING: 8,
    }
    report = campaigns_watchdog(now=timezone.now() + timedelta(seconds=settings.CAMPAIGN_STALE_SECONDS + 1))
    assert (report.retried_batches, report.restarted_campaigns) == (1, [campaign.pk])
    spawn_worker(**worker_settings).wait(timeout=120)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert Counter(campaign.recipients.values_list("status", flat=True)) == {RecipientStatus.SENT: 12}
    assert_each_recipient_once(brevo, campaign)


def test_two_worker_processes_share_one_campaign(brevo, spawn_worker, admin_user, audience):
    audience(299)
    brevo.fail_randomly(0.0, path_prefix="smtp/email", delay_rate=0.3, delay=0.05, seed=3)
    campaign = CampaignFactory()
    campaign_send(campaign=campaign, by=admin_user)
    worker_settings = {"CAMPAIGN_BATCH_SIZE": 10, "CAMPAIGN_SEND_CONCURRENCY": 4}

    workers = [spawn_worker(**worker_settings) for _ in range(2)]
    for worker in workers:
        assert worker.wait(timeout=180) == 0

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert campaign.recipient_count == campaign.recipients_total == 300
    assert len(brevo.calls("POST", "smtp/email")) == 30
    assert_each_recipient_once(brevo, campaign)


def test_two_concurrent_send_requests_start_one_send(brevo, admin_user, audience, drain):
    audience(5)
    campaign = CampaignFactory()
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def click() -> None:
        client = APIClient()
        client.force_authenticate(admin_user)
        barrier.wait()
        answers.append(client.post(f"/api/campaigns/{campaign.pk}/send/", {}).status_code)
        connections.close_all()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drain()

    assert sorted(answers) == [202, 409]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert campaign.recipients_total == 6
    assert_each_recipient_once(brevo, campaign)


def test_concurrent_start_jobs_freeze_the_audience_once(admin_user, audience):
    audience(50)
    campaign = CampaignFactory(status=CampaignStatus.SENDING)
    barrier = threading.Barrier(3)

    def start() -> None:
        barrier.wait()
        campaign_start(campaign_id=campaign.pk)
        connections.close_all()

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    campaign.refresh_from_db()
    assert campaign.recipients.count() == campaign.recipients_total == 51


# --- The sending pace and Brevo's account refusals, across worker processes -------------------


def campaign_messages(brevo, campaign: Campaign) -> Counter:
    """How many times Brevo accepted the campaign for each address (notices to staff left out)."""
    tag = f"campaign-{campaign.pk}"
    with brevo.lock:
        return Counter(message["to"] for message in brevo.messages if tag in message["tags"])


@pytest.fixture
def shared_clock(tmp_path, monkeypatch, settings, brevo):
    """One clock for the test, its workers and the fake Brevo's per-hour counts, moved by hand."""
    monkeypatch.setenv(pace_clock.FILE_VARIABLE, str(tmp_path / "clock"))
    settings.SENDING_CLOCK = pace_clock.PATH
    pace_clock.set_now(datetime(2030, 3, 5, 13, 10, tzinfo=UTC))
    brevo.set_clock(pace_clock.now)
    return {"SENDING_CLOCK": pace_clock.PATH, pace_clock.FILE_VARIABLE: str(tmp_path / "clock")}


def test_two_workers_keep_to_the_hourly_cap_and_go_on_each_hour(
    brevo, spawn_worker, admin_user, audience, shared_clock, settings
):
    audience(59)
    # Slow answers now and then, so the two workers' batches interleave around the cap.
    brevo.fail_randomly(0.0, path_prefix="smtp/email", delay_rate=0.3, delay=0.05, seed=5)
    settings.SENDING_MAX_PER_HOUR = 25
    campaign = CampaignFactory()
    campaign_send(campaign=campaign, by=admin_user)
    worker_settings = {
        "CAMPAIGN_BATCH_SIZE": 4,
        "CAMPAIGN_SEND_CONCURRENCY": 4,
        "SENDING_MAX_PER_HOUR": 25,
        **shared_clock,
    }
    start = pace_clock.now()

    for hour in range(3):
        workers = [spawn_worker(**worker_settings) for _ in range(2)]
        for worker in workers:
            assert worker.wait(timeout=180) == 0
        campaign.refresh_from_db()
        assert campaign.recipient_count == min(25 * (hour + 1), 60)
        if hour < 2:
            # Both workers stopped at the cap together; the campaign waits, still SENDING.
            assert (campaign.status, campaign.waiting_for) == (CampaignStatus.SENDING, "the hourly cap")
            assert campaign.waiting_until == start.replace(minute=0) + timedelta(hours=hour + 1)
            pace_clock.set_now(campaign.waiting_until + timedelta(seconds=1))
            # Its batch jobs wait in RQ's scheduler for that time; the watchdog gets there first here.
            stale = timedelta(seconds=settings.CAMPAIGN_STALE_SECONDS + 1)
            assert campaigns_watchdog(now=pace_clock.now() + stale).restarted_campaigns == [campaign.pk]

    assert campaign.status == CampaignStatus.SENT
    assert list(brevo.accepted_per_hour().values()) == [25, 25, 10]
    assert set(campaign_messages(brevo, campaign).values()) == {1}
    assert_each_recipient_once(brevo, campaign)


def test_a_402_across_workers_pauses_and_a_resume_sends_the_rest_once(
    brevo, spawn_worker, admin_user, audience, tmp_path
):
    audience(29)
    brevo.set_credits(10)
    brevo.fail_randomly(0.0, path_prefix="smtp/email", delay_rate=0.3, delay=0.05, seed=7)
    campaign = CampaignFactory(created_by=admin_user)
    campaign_send(campaign=campaign, by=admin_user)
    worker_settings = {"CAMPAIGN_BATCH_SIZE": 4, "CAMPAIGN_SEND_CONCURRENCY": 4, "OUTBOX_DIR": str(tmp_path)}

    for worker in [spawn_worker(**worker_settings) for _ in range(2)]:
        assert worker.wait(timeout=180) == 0

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert "no email credits left" in campaign.status_reason
    # Whole batches of 4 went out while credits lasted (10 -> 6 -> 2); nobody failed.
    assert Counter(campaign.recipients.values_list("status", flat=True)) == {
        RecipientStatus.SENT: 8,
        RecipientStatus.PENDING: 22,
    }
    # The notice to the creator: accepted by Brevo with the last credits, or in the outbox.
    notices = [message for message in brevo.messages if message["subject"].startswith("Campaign paused")]
    assert len(notices) + len(list(tmp_path.glob("*.eml"))) == 1

    brevo.set_credits(None)
    campaign_resume(campaign=campaign)
    for worker in [spawn_worker(**worker_settings) for _ in range(2)]:
        assert worker.wait(timeout=180) == 0

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert Counter(campaign.recipients.values_list("status", flat=True)) == {RecipientStatus.SENT: 30}
    accepted = campaign_messages(brevo, campaign)
    assert set(accepted.values()) == {1}
    assert set(accepted) == set(campaign.recipients.values_list("email", flat=True))
