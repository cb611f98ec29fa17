"""Injected faults: error statuses, 429 with Brevo's headers, drops, slow answers, random faults."""

from __future__ import annotations

import time

import pytest
import requests

from fakebrevo import FakeBrevo
from fakebrevo.tests.client import Client, email_body, error, make_list


def test_fail_next_answers_the_status_then_recovers(fake: FakeBrevo, brevo: Client) -> None:
    fake.fail_next(2, 503)

    statuses = [brevo("POST", "smtp/email", email_body()).status_code for _ in range(3)]

    assert statuses == [503, 503, 201]
    assert len(fake.messages) == 1


def test_fail_next_429_carries_brevo_rate_limit_headers(brevo: Client, fake: FakeBrevo) -> None:
    fake.fail_next(1, 429, reset_seconds=7)

    response = brevo("GET", "contacts/lists/1")

    assert response.status_code == 429
    assert response.headers["x-sib-ratelimit-reset"] == "7"
    assert response.headers["x-sib-ratelimit-remaining"] == "0"
    assert "x-sib-ratelimit-limit" in response.headers
    assert "Retry-After" not in response.headers


def test_fail_next_only_hits_its_path(fake: FakeBrevo, brevo: Client) -> None:
    fake.fail_next(1, 500, path_prefix="smtp/email")

    assert brevo("POST", "contacts/folders", {"name": "x"}).status_code == 201
    assert brevo("POST", "smtp/email", email_body()).status_code == 500
    assert brevo("POST", "smtp/email", email_body()).status_code == 201


def test_dropped_connection_processes_nothing(fake: FakeBrevo, brevo: Client) -> None:
    fake.fail_next(1, drop=True)

    with pytest.raises(requests.ConnectionError):
        brevo("POST", "smtp/email", email_body())

    assert fake.messages == []
    assert fake.calls()[0]["fault"] == "drop"


def test_drop_after_accept_stores_the_messages_but_answers_nothing(fake: FakeBrevo, brevo: Client) -> None:
    fake.drop_after_accept_next(1)
    body = email_body(headers={"idempotencyKey": "k-3"})

    with pytest.raises(requests.ConnectionError):
        brevo("POST", "smtp/email", body)
    retry = brevo("POST", "smtp/email", body)

    assert fake.accepted_emails() == ["ann@example.com"]
    error(retry, 400, "duplicate_parameter")
    assert fake.calls()[0]["processed_status"] == 201


def test_slow_answer_times_out_the_client_yet_is_processed(fake: FakeBrevo, brevo: Client) -> None:
    fake.fail_next(1, status=None, delay=0.5)

    with pytest.raises(requests.ReadTimeout):
        brevo("POST", "smtp/email", email_body(), timeout=0.1)

    deadline = time.monotonic() + 5
    while not fake.messages and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.accepted_emails() == ["ann@example.com"]


def test_a_slow_request_from_before_a_reset_leaves_the_fresh_state_alone(fake: FakeBrevo, brevo: Client) -> None:
    fake.fail_next(1, status=None, delay=0.5)
    with pytest.raises(requests.ReadTimeout):
        brevo("POST", "smtp/email", email_body(), timeout=0.1)

    fake.reset()
    time.sleep(0.8)

    assert fake.messages == []


def test_slow_error_waits_then_fails(fake: FakeBrevo, brevo: Client) -> None:
    fake.fail_next(1, 502, delay=0.2)

    started = time.monotonic()
    response = brevo("GET", "contacts/lists/1")

    assert response.status_code == 502
    assert time.monotonic() - started >= 0.2


def test_random_faults_are_seeded_and_can_be_turned_off(fake: FakeBrevo, brevo: Client) -> None:
    list_id = make_list(brevo)

    def run() -> list[int]:
        fake.fail_randomly(0.5, statuses=(429, 500), seed=7, path_prefix="contacts")
        return [brevo("GET", f"contacts/lists/{list_id}").status_code for _ in range(40)]

    first, second = run(), run()

    assert first == second
    assert {200, 429, 500} == set(first)
    fake.fail_randomly(0)
    assert all(brevo("GET", f"contacts/lists/{list_id}").status_code == 200 for _ in range(10))


def test_random_drops(fake: FakeBrevo, brevo: Client) -> None:
    fake.fail_randomly(0, drop_rate=1.0)

    with pytest.raises(requests.ConnectionError):
        brevo("GET", "contacts/lists/1")
