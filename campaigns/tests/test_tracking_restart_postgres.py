"""PostgreSQL restarting while Brevo's webhooks pour in, to the web process the README runs
(gunicorn, production settings). Brevo retries a delivery answered 429 and discards one answered
5xx, so every answer must be 200 (stored) or 429 (deliver again), and once the 429s are
delivered again every event is stored exactly once and processed once: opens counted once,
each bounce suppressing its address once.

What a restart looks like to the app, played on the test database alone: the PostgreSQL server
is shared with other work, and `pg_ctlcluster ... restart` would cut every database on it, with
nothing to make that safe. A fast shutdown ends each backend with SQLSTATE 57P01 ("terminating
connection due to administrator command"), exactly what `pg_terminate_backend` sends, and
refuses new connections until the server is up again, which `ALLOW_CONNECTIONS false` does for
one database. Both are done from a connection to the `postgres` maintenance database, which the
outage leaves alone.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from django.conf import settings
from django.db import connection

from accounts.models import Suppression, SuppressionReason, User
from campaigns.models import CampaignRecipient, RecipientStatus, TrackingEvent
from campaigns.services.tracking import tracking_events_process_pending
from campaigns.services.tracking_intake import IncomingEvent, tracking_dedup_key
from campaigns.tests.brevo_webhooks import T0, WEBHOOK, brevo_event
from campaigns.tests.factories import CampaignRecipientFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SECRET = ("brevo", "restart-hook")
READERS = 100
OPENS_EACH = 3
# Outages played while deliveries go on, each once this share of the deliveries was answered.
OUTAGES_AT = (0.15, 0.45, 0.75)
# Each outage lasts until this many deliveries were refused during it: the restart is long
# enough to be seen, however fast or slow the machine is.
REFUSED_PER_OUTAGE = 4
SENDERS = 4


def _server() -> dict[str, Any]:
    db = connection.settings_dict
    return {
        "host": db["HOST"] or "127.0.0.1",
        "port": db["PORT"] or 5432,
        "user": db["USER"],
        "password": db["PASSWORD"] or None,
    }


def _database_url() -> str:
    server = _server()
    password = f":{server['password']}" if server["password"] else ""
    return f"postgres://{server['user']}{password}@{server['host']}:{server['port']}/{connection.settings_dict['NAME']}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(params=[0, 60], ids=["fresh-connections", "persistent-connections"])
def web(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """gunicorn as the README runs it, on the test database; with connections opened per request
    (CONN_MAX_AGE=0, the default) and kept between requests (60 s), which a restart leaves dead
    in each worker. Yields the webhook's URL."""
    port = _free_port()
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DATABASE_"))},
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "restart-test-secret-key-" + "q8Wm2" * 8,
        "ERASURE_HASH_KEY": "restart-erasure-key",
        "DATABASE_URL": _database_url(),
        "CONN_MAX_AGE": str(request.param),
        "REDIS_URL": settings.RQ_QUEUES["default"]["URL"],
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": f"https://127.0.0.1:{port}",
        "ANYMAIL_WEBHOOK_SECRET": ":".join(SECRET),
        "WEB_CONCURRENCY": "2",
        "LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    command = [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        with requests.Session() as probe:
            for _ in range(1200):
                try:
                    probe.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
                    break
                except requests.RequestException:
                    assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
                    time.sleep(0.05)
            else:
                pytest.fail("gunicorn did not start listening")
        yield f"http://127.0.0.1:{port}{WEBHOOK}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _key(payload: dict[str, Any]) -> str:
    return tracking_dedup_key(
        IncomingEvent("", payload["message-id"], payload["email"], None, payload.get("link"), None, payload)
    )


def _deliveries(rows: list[CampaignRecipient]) -> tuple[list[Any], list[dict[str, Any]]]:
    """Brevo's traffic for the campaign, in a fixed random order: batches of various sizes and
    single events, some events delivered twice (again alone, or inside another batch), as Brevo
    does when an answer was lost. Returns the deliveries and the distinct events."""
    rng = random.Random(14)
    events: list[dict[str, Any]] = []
    for number, row in enumerate(rows):
        events.append(brevo_event("delivered", row))
        events += [brevo_event("opened", row, at=T0 + timedelta(minutes=opened + 1)) for opened in range(OPENS_EACH)]
        events.append(brevo_event("click", row, link="https://example.com/news", at=T0 + timedelta(minutes=9)))
        if number % 5 == 0:
            events.append(brevo_event("hard_bounce", row, at=T0 + timedelta(seconds=30)))
        if number % 5 == 3:
            events.append(brevo_event("spam", row, at=T0 + timedelta(hours=1)))
    shuffled = rng.sample(events, len(events))
    deliveries: list[Any] = []
    while shuffled:
        size = rng.choice([1, 1, 1, 1, 1, 1, 5, 20, 50])
        taken, shuffled = shuffled[:size], shuffled[size:]
        deliveries.append(taken[0] if size == 1 else taken)
    repeats = [rng.choice(events) for _ in range(15)] + [rng.sample(events, 10) for _ in range(5)]
    deliveries += repeats + rng.sample([delivery for delivery in deliveries if isinstance(delivery, list)], 3)
    return rng.sample(deliveries, len(deliveries)), events


class Outages:
    """Plays PostgreSQL restarts on the test database while deliveries are answered."""

    def __init__(self, spared_pid: int) -> None:
        self.name = connection.settings_dict["NAME"]
        self.spared_pid = spared_pid
        self.admin = psycopg.connect(dbname="postgres", autocommit=True, **_server())
        self.terminated = 0

    def down(self) -> None:
        # Refuse new connections first, so nothing reconnects between the two statements.
        self.admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
        found = self.admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
            [self.name, self.spared_pid],
        ).fetchone()
        self.terminated += found[0] if found else 0

    def up(self) -> None:
        self.admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')

    def close(self) -> None:
        self.up()
        self.admin.close()


def test_a_database_restart_during_ingestion_loses_nothing_doubles_nothing_and_answers_no_5xx(web, campaign, make_user):
    rows = [
        CampaignRecipientFactory(
            campaign=campaign,
            user=make_user(email=f"reader{number}@example.com"),
            email=f"reader{number}@example.com",
            status=RecipientStatus.SENT,
            message_id=f"<202611200900.{5000 + number}@smtp-relay.mailin.fr>",
        )
        for number in range(READERS)
    ]
    deliveries, events = _deliveries(rows)
    connection.ensure_connection()  # the test's own connection, idle during the outages, is spared
    outages = Outages(spared_pid=connection.connection.info.backend_pid)
    answers: list[tuple[int, int]] = []  # (delivery, status) in the order answered
    lock = threading.Condition()
    pending = list(range(len(deliveries)))

    def send() -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    if not pending:
                        return
                    index = pending.pop(0)
                try:
                    status = _post(session, web, deliveries[index])
                except Exception:
                    status = 0  # no answer at all (connection reset, timeout): as bad as a 5xx for Brevo
                with lock:
                    answers.append((index, status))
                    lock.notify_all()

    def restart_repeatedly() -> None:
        for share in OUTAGES_AT:
            with lock:
                lock.wait_for(lambda share=share: len(answers) >= share * len(deliveries) or not pending)
                refused_before = sum(1 for _, status in answers if status == 429)
            outages.down()
            with lock:
                lock.wait_for(
                    lambda before=refused_before: (
                        sum(1 for _, status in answers if status == 429) >= before + REFUSED_PER_OUTAGE
                        or (not pending and len(answers) == len(deliveries))
                    )
                )
            outages.up()

    threads = [threading.Thread(target=send) for _ in range(SENDERS)] + [threading.Thread(target=restart_repeatedly)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        outages.close()

    statuses = Counter(status for _, status in answers)
    assert set(statuses) <= {200, 429}, statuses
    # Every outage was seen by deliveries in flight, and answered 429.
    assert statuses[429] >= len(OUTAGES_AT) * REFUSED_PER_OUTAGE
    assert outages.terminated > 0
    # Nothing is acknowledged before it is stored.
    stored = set(TrackingEvent.objects.values_list("dedup_key", flat=True))
    for index, status in answers:
        if status == 200:
            assert {_key(event) for event in _events(deliveries[index])} <= stored

    # Brevo delivers the refused ones again, later; the database is back by then.
    with requests.Session() as session:
        for index in sorted({index for index, status in answers if status == 429}):
            assert _post(session, web, deliveries[index]) == 200

    assert TrackingEvent.objects.count() == len(events)
    assert set(TrackingEvent.objects.values_list("dedup_key", flat=True)) == {_key(event) for event in events}
    tracking_events_process_pending()
    bounced = {row.email for number, row in enumerate(rows) if number % 5 == 0}
    complained = {row.email for number, row in enumerate(rows) if number % 5 == 3}
    assert dict(Suppression.objects.values_list("email", "reason")) == {
        **dict.fromkeys(bounced, SuppressionReason.HARD_BOUNCE),
        **dict.fromkeys(complained, SuppressionReason.COMPLAINT),
    }
    assert set(User.objects.filter(reachable=False).values_list("email", flat=True)) == bounced | complained
    ledger = CampaignRecipient.objects.filter(campaign=campaign)
    assert {(row.open_count, row.click_count) for row in ledger} == {(OPENS_EACH, 1)}
    assert ledger.filter(delivered_at=T0).count() == READERS
    assert set(ledger.filter(hard_bounced_at__isnull=False).values_list("email", flat=True)) == bounced


def _events(delivery: Any) -> list[dict[str, Any]]:
    return delivery if isinstance(delivery, list) else [delivery]


def _post(session: requests.Session, url: str, delivery: Any) -> int:
    # The proxy in front says the request came over HTTPS (production redirects plain HTTP).
    response = session.post(url, json=delivery, auth=SECRET, headers={"X-Forwarded-Proto": "https"}, timeout=60)
    return response.status_code
