"""Brevo's batched tracking webhook (a JSON array of events per request) beside single events:
one statement per delivery, repeats stored once, bad bodies refused with a reason, and 429 (the
answer Brevo retries) whenever the events could not be stored, the database gone included."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import psycopg
import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Suppression
from campaigns.models import CampaignRecipient, TrackingEvent, TrackingEventStatus
from campaigns.services.tracking_intake import IncomingEvent, tracking_dedup_key
from campaigns.tests.brevo_webhooks import T0, WEBHOOK, brevo_event, queued_jobs, webhook_auth
from campaigns.tests.factories import CampaignRecipientFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("every_event_schedules")]


def _inserts(queries: CaptureQueriesContext) -> int:
    table = TrackingEvent._meta.db_table
    return sum(1 for query in queries.captured_queries if query["sql"].startswith(f'INSERT INTO "{table}"'))


def test_a_batch_is_stored_in_one_statement_and_processed_by_one_job(post, recipients, run_jobs):
    batch = [
        brevo_event("delivered", recipients[0]),
        brevo_event("unique_opened", recipients[1], at=T0 + timedelta(minutes=5)),
        brevo_event("click", recipients[2], link="https://example.com/a", at=T0 + timedelta(minutes=9)),
    ]

    with CaptureQueriesContext(connection) as queries:
        response = post(batch)

    assert response.status_code == 200
    assert _inserts(queries) == 1
    assert TrackingEvent.objects.filter(status=TrackingEventStatus.PENDING).count() == 3
    assert queued_jobs() == 1
    run_jobs()
    for row in recipients:
        row.refresh_from_db()
    assert recipients[0].delivered_at == T0
    assert recipients[1].open_count == 1
    assert (recipients[2].click_count, recipients[2].first_opened_at) == (1, T0 + timedelta(minutes=9))


def test_single_events_and_batches_share_the_url_and_an_event_is_stored_once_either_way(post, recipients):
    single = brevo_event("delivered", recipients[0])

    assert post(single).status_code == 200
    assert post([single, brevo_event("delivered", recipients[1])]).status_code == 200

    assert TrackingEvent.objects.count() == 2


def test_the_same_batch_delivered_twice_stores_and_counts_nothing_twice(post, recipients, run_jobs):
    batch = [
        brevo_event("unique_opened", row, at=T0 + timedelta(seconds=number)) for number, row in enumerate(recipients)
    ]

    assert post(batch).status_code == 200
    run_jobs()
    assert post(batch).status_code == 200
    run_jobs()

    assert TrackingEvent.objects.count() == 3
    assert sorted(CampaignRecipient.objects.values_list("open_count", flat=True)) == [1, 1, 1]


def test_repeats_inside_a_batch_and_across_overlapping_batches_are_stored_once(post, recipients):
    first, second, third = (brevo_event("delivered", row) for row in recipients)

    assert post([first, first, second]).status_code == 200
    assert post([second, third, third]).status_code == 200

    assert TrackingEvent.objects.count() == 3


def test_a_full_batch_of_500_events_is_one_statement_where_the_database_allows(post, recipients):
    batch = [brevo_event("opened", recipients[number % 3], at=T0 + timedelta(seconds=number)) for number in range(500)]

    with CaptureQueriesContext(connection) as queries:
        response = post(batch)

    assert response.status_code == 200
    assert TrackingEvent.objects.count() == 500
    # SQLite caps a statement at 999 parameters: there the rows go in several statements of one
    # transaction; PostgreSQL takes the batch in one.
    limit = connection.features.max_query_params
    columns = 13
    assert _inserts(queries) == (1 if limit is None else -(-500 // (limit // columns)))


def test_an_empty_batch_is_accepted_and_schedules_nothing(post):
    assert post([]).status_code == 200
    assert not TrackingEvent.objects.exists()
    assert queued_jobs() == 0


def test_a_repeat_delivery_schedules_no_processing(post, recipients, run_jobs):
    batch = [brevo_event("delivered", row) for row in recipients]
    post(batch)
    run_jobs()

    assert post(batch).status_code == 200
    assert queued_jobs() == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "The body is not JSON"),
        (b'[{"event": "delivered"}, "delivered"]', "Event 1 of the batch is not a JSON object."),
        (b'"delivered"', "The body is not a JSON object."),
        (b'{"items": []}', "inbound-email payload"),
    ],
)
def test_a_body_brevo_would_never_send_is_refused_with_the_reason(client, body, message):
    response = client.post(WEBHOOK, data=body, content_type="application/json", **webhook_auth())

    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not TrackingEvent.objects.exists()


def test_a_batch_without_basic_auth_is_refused_before_it_is_read(client, recipients):
    response = client.post(
        WEBHOOK, data=json.dumps([brevo_event("delivered", recipients[0])]), content_type="application/json"
    )

    assert response.status_code == 400
    assert not TrackingEvent.objects.exists()


def test_an_event_anymail_cannot_read_is_kept_as_unknown_beside_the_others(post, recipients):
    unreadable = brevo_event("delivered", recipients[1], ts_epoch="yesterday")

    response = post([brevo_event("delivered", recipients[0]), unreadable])

    assert response.status_code == 200
    kept = TrackingEvent.objects.get(message_id=recipients[1].message_id)
    assert (kept.event_type, kept.esp_event, kept.payload["ts_epoch"]) == ("unknown", "delivered", "yesterday")
    assert TrackingEvent.objects.count() == 2


def test_the_dedup_key_ignores_what_brevo_may_change_between_deliveries(recipients):
    event = brevo_event("click", recipients[0], link="https://example.com/a")

    def key(payload):
        return tracking_dedup_key(
            IncomingEvent("clicked", payload["message-id"], payload["email"], None, payload["link"], None, payload)
        )

    assert key(event) == key({**event, "id": 999, "email": event["email"].upper()})
    assert key(event) != key({**event, "link": "https://example.com/b"})


# --- the database going away ---------------------------------------------------------------------


def _conninfo() -> dict[str, object]:
    """How to reach the test database from a connection of the test's own (not Django's)."""
    settings = connection.settings_dict
    return {
        "dbname": settings["NAME"],
        "user": settings["USER"],
        "password": settings["PASSWORD"],
        "host": settings["HOST"],
        "port": settings["PORT"] or 5432,
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_delivery_arriving_while_the_database_connection_is_gone_gets_429_and_is_stored_when_retried(
    post, recipients, run_jobs
):
    batch = [brevo_event("hard_bounce", recipients[0]), brevo_event("delivered", recipients[1])]
    connection.ensure_connection()
    with psycopg.connect(**_conninfo(), autocommit=True) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])

    refused = post(batch)

    assert refused.status_code == 429
    assert "deliver them again later" in refused.json()["detail"]
    assert not TrackingEvent.objects.exists()

    retried = post(batch)

    assert retried.status_code == 200
    assert TrackingEvent.objects.count() == 2
    run_jobs()
    assert CampaignRecipient.objects.get(pk=recipients[0].pk).hard_bounced_at == T0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_backends_killed_during_ingestion_lose_nothing_and_double_nothing(live_server, campaign, make_user):
    """Deliveries from four threads to a live server while another thread terminates the
    server's database connections, INSERTs in flight included. Every answer is 200 or 429;
    what was answered 200 is stored; delivering the 429s again (as Brevo does) ends with every
    event stored exactly once."""
    user = make_user(email="reader@example.com")
    row = CampaignRecipientFactory(campaign=campaign, user=user, email=user.email, message_id="<m@x>")
    batches = [
        [brevo_event("opened", row, at=T0 + timedelta(milliseconds=batch * 1000 + number)) for number in range(100)]
        for batch in range(32)
    ]
    connection.ensure_connection()
    spared = [connection.connection.info.backend_pid]
    url = live_server.url + WEBHOOK
    answers: dict[int, int] = {}
    done = threading.Event()
    killed = {"inserting": 0}

    def deliver(indexes: list[int]) -> None:
        with requests.Session() as session:
            for index in indexes:
                response = session.post(url, json=batches[index], auth=("hook", "secret"), timeout=30)
                answers[index] = response.status_code

    def kill_until_done() -> None:
        # The server's backends caught running the events' INSERT: the statement dies with them.
        inserting = (
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> ALL(%s) AND state = 'active' AND query LIKE 'INSERT INTO \"campaigns_trackingevent\"%%'"
        )
        with psycopg.connect(**_conninfo(), autocommit=True) as killer:
            spared.append(killer.info.backend_pid)
            while not done.is_set():
                found = killer.execute(inserting, [spared]).fetchone()
                killed["inserting"] += found[0] if found else 0
                time.sleep(0.001)

    killer = threading.Thread(target=kill_until_done)
    killer.start()
    senders = [threading.Thread(target=deliver, args=(list(range(start, 32, 4)),)) for start in range(4)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    done.set()
    killer.join()

    assert set(answers.values()) <= {200, 429}
    acknowledged = [index for index, status in answers.items() if status == 200]
    stored = set(TrackingEvent.objects.values_list("dedup_key", flat=True))
    for index in acknowledged:
        assert {_key(event) for event in batches[index]} <= stored
    with requests.Session() as session:
        for index in sorted(set(answers) - set(acknowledged)):
            assert session.post(url, json=batches[index], auth=("hook", "secret"), timeout=30).status_code == 200
        # And Brevo repeating a delivery it had an answer for changes nothing.
        assert session.post(url, json=batches[0], auth=("hook", "secret"), timeout=30).status_code == 200
    assert TrackingEvent.objects.count() == 32 * 100
    # The outage really hit deliveries in flight: some were refused, and answered 429.
    assert killed["inserting"] > 0
    assert 429 in answers.values()


def _key(payload: dict) -> str:
    return tracking_dedup_key(
        IncomingEvent("opened", payload["message-id"], payload["email"], None, None, None, payload)
    )


def test_switching_to_a_batched_webhook_while_the_single_one_still_delivers_counts_each_event_once(
    post, recipients, run_jobs
):
    """While an account moves to a batched webhook (the README: create it, then delete the old
    one), Brevo delivers every event twice: alone through the old webhook and inside a batch
    through the new one, in either order, processed or not in between."""
    bounce = brevo_event("hard_bounce", recipients[0])
    opens = [brevo_event("opened", recipients[1], at=T0 + timedelta(minutes=minute)) for minute in range(3)]
    click = brevo_event("click", recipients[2], link="https://example.com/a", at=T0 + timedelta(minutes=4))

    assert post(bounce).status_code == 200
    assert post(opens[0]).status_code == 200
    run_jobs()
    assert post([bounce, *opens, click]).status_code == 200
    assert post(opens[1]).status_code == 200
    run_jobs()
    assert post(click).status_code == 200
    assert post([opens[2], click, bounce]).status_code == 200
    run_jobs()

    assert TrackingEvent.objects.count() == 5
    assert Suppression.objects.get().email == recipients[0].email
    for row in recipients:
        row.refresh_from_db()
    assert recipients[0].hard_bounced_at == T0
    assert (recipients[1].open_count, recipients[1].first_opened_at) == (3, T0)
    assert recipients[2].click_count == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_batch_delivered_twice_at_the_same_moment_is_stored_once(live_server, recipients):
    """Two deliveries of one batch racing (Brevo retrying a request it timed out on while the
    first is still being answered): both INSERTs run at once; the unique key makes the second wait
    for the first and skip every row it wrote."""
    batch = [brevo_event("opened", recipients[number % 3], at=T0 + timedelta(seconds=number)) for number in range(300)]
    start = threading.Barrier(4)
    answers: list[int] = []

    def deliver() -> None:
        with requests.Session() as session:
            start.wait()
            response = session.post(live_server.url + WEBHOOK, json=batch, auth=("hook", "secret"), timeout=60)
            answers.append(response.status_code)

    senders = [threading.Thread(target=deliver) for _ in range(4)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()

    assert answers == [200, 200, 200, 200]
    assert TrackingEvent.objects.count() == 300
