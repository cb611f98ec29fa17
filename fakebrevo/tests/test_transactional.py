"""POST /smtp/email: required fields, versions and their limits, message ids, idempotency keys."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fakebrevo import FakeBrevo
from fakebrevo.tests.client import Client, email_body, error, versions
from fakebrevo.transactional import IDEMPOTENCY_WINDOW_SECONDS

MESSAGE_ID_RE = re.compile(r"^<\d{12}\.\d{11}@smtp-relay\.mailin\.fr>$")


@pytest.mark.parametrize("missing", ["sender", "subject", "htmlContent", "to"])
def test_email_required_fields(fake: FakeBrevo, brevo: Client, missing: str) -> None:
    body = email_body()
    del body[missing]

    error(brevo("POST", "smtp/email", body), 400, "missing_parameter")
    assert fake.messages == []


def test_text_only_email_is_accepted(brevo: Client) -> None:
    body = email_body(textContent="Hi")
    del body["htmlContent"]

    assert brevo("POST", "smtp/email", body).status_code == 201


def test_template_id_relaxes_sender_subject_and_content(brevo: Client) -> None:
    response = brevo("POST", "smtp/email", {"templateId": 3, "to": [{"email": "ann@example.com"}]})

    assert response.status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        email_body(to=[{"email": "ann@example"}]),
        email_body(to=[{"email": "ann at example.com"}]),
        email_body(sender={"email": "news"}),
        email_body(replyTo={"email": "@example.com"}),
        email_body(to=None, messageVersions=[{"to": [{"email": "ok@example.com"}, {"email": "bad@"}]}]),
    ],
)
def test_invalid_addresses_are_refused_by_name(fake: FakeBrevo, brevo: Client, body: dict[str, Any]) -> None:
    body = {key: value for key, value in body.items() if value is not None}

    message = error(brevo("POST", "smtp/email", body), 400, "invalid_parameter")

    assert "email is not valid" in message
    assert fake.messages == []


def test_header_values_must_be_strings(brevo: Client) -> None:
    error(brevo("POST", "smtp/email", email_body(headers={"X-Count": 3})), 400, "invalid_parameter")


def test_single_send_answers_one_message_id(fake: FakeBrevo, brevo: Client) -> None:
    body = email_body(to=[{"email": "ann@example.com"}, {"email": "bob@example.com"}], tags=["campaign-1"])

    response = brevo("POST", "smtp/email", body)

    assert response.status_code == 201
    message_id = response.json()["messageId"]
    assert MESSAGE_ID_RE.match(message_id)
    assert fake.accepted_emails() == ["ann@example.com", "bob@example.com"]
    assert {m["message_id"] for m in fake.messages} == {message_id}
    assert fake.messages[0]["tags"] == ["campaign-1"]


def test_versions_answer_one_id_per_version_in_order(fake: FakeBrevo, brevo: Client) -> None:
    body = email_body(
        to=None,
        params={"brand": "Acme", "first_name": "friend"},
        headers={"idempotencyKey": "batch-1", "X-Campaign": "7"},
        messageVersions=[
            {"to": [{"email": "ann@example.com"}], "params": {"first_name": "Ann"}},
            {
                "to": [{"email": "bob@example.com"}],
                "params": {"first_name": "Bob"},
                "subject": "Bob only",
                "headers": {"List-Unsubscribe": "<https://example.com/u/bob>"},
            },
        ],
    )
    del body["to"]

    response = brevo("POST", "smtp/email", body)

    ids = response.json()["messageIds"]
    assert response.status_code == 201
    assert len(set(ids)) == 2
    assert all(MESSAGE_ID_RE.match(message_id) for message_id in ids)
    ann, bob = fake.messages
    assert (ann["to"], ann["message_id"], bob["to"], bob["message_id"]) == (
        "ann@example.com",
        ids[0],
        "bob@example.com",
        ids[1],
    )
    assert ann["params"] == {"brand": "Acme", "first_name": "Ann"}
    assert bob["subject"] == "Bob only"
    assert ann["subject"] == body["subject"]
    assert bob["headers"]["List-Unsubscribe"] == "<https://example.com/u/bob>"
    assert "List-Unsubscribe" not in ann["headers"]
    assert ann["idempotency_key"] == "batch-1"
    assert ann["request_no"] == fake.calls("POST", "smtp/email")[0]["request_no"]


def test_message_ids_never_repeat(brevo: Client) -> None:
    ids = [brevo("POST", "smtp/email", email_body()).json()["messageId"] for _ in range(20)]

    assert len(set(ids)) == 20


def test_at_most_1000_versions(fake: FakeBrevo, brevo: Client) -> None:
    body = email_body(messageVersions=versions(1001))
    del body["to"]

    error(brevo("POST", "smtp/email", body), 400, "out_of_range")
    body["messageVersions"] = versions(1000)
    assert len(brevo("POST", "smtp/email", body).json()["messageIds"]) == 1000
    assert len(fake.messages) == 1000


def test_versions_need_1_to_99_recipients(brevo: Client) -> None:
    many = [{"email": f"user{index}@example.com"} for index in range(100)]
    body = email_body(messageVersions=[{"to": many}])
    del body["to"]

    error(brevo("POST", "smtp/email", body), 400, "out_of_range")
    body["messageVersions"] = [{"to": many[:99]}]
    assert brevo("POST", "smtp/email", body).status_code == 201
    body["messageVersions"] = [{"to": []}]
    error(brevo("POST", "smtp/email", body), 400, "missing_parameter")
    body["messageVersions"] = []
    error(brevo("POST", "smtp/email", body), 400, "missing_parameter")


def test_params_are_capped_per_version_and_in_total(fake: FakeBrevo, brevo: Client) -> None:
    near_100_kb = {"blob": "x" * 99_000}
    body = email_body(messageVersions=versions(1, params={"blob": "x" * 100_001}))
    del body["to"]

    error(brevo("POST", "smtp/email", body), 400, "out_of_range")
    body["messageVersions"] = versions(11, params=near_100_kb)
    error(brevo("POST", "smtp/email", body), 400, "out_of_range")
    body["messageVersions"] = versions(10, params=near_100_kb)
    assert brevo("POST", "smtp/email", body).status_code == 201
    assert len(fake.messages) == 10


def test_repeated_idempotency_key_is_refused_and_not_sent_again(fake: FakeBrevo, brevo: Client) -> None:
    body = email_body(headers={"idempotencyKey": "6f1c2d4e-0000-4000-8000-000000000001"})

    first = brevo("POST", "smtp/email", body)
    repeat = brevo("POST", "smtp/email", body)

    assert first.status_code == 201
    error(repeat, 400, "duplicate_parameter")
    assert fake.accepted_emails() == ["ann@example.com"]
    other_key = email_body(headers={"idempotencyKey": "6f1c2d4e-0000-4000-8000-000000000002"})
    assert brevo("POST", "smtp/email", other_key).status_code == 201


def test_idempotency_key_expires_after_the_window(fake: FakeBrevo, brevo: Client) -> None:
    now = [datetime(2026, 11, 2, 9, 0, tzinfo=UTC)]
    fake.set_clock(lambda: now[0])
    body = email_body(headers={"idempotencyKey": "k-1"})
    brevo("POST", "smtp/email", body)

    now[0] += timedelta(seconds=IDEMPOTENCY_WINDOW_SECONDS)

    assert brevo("POST", "smtp/email", body).status_code == 201
    assert fake.accepted_emails() == ["ann@example.com", "ann@example.com"]


def test_a_refused_request_does_not_use_up_its_key(fake: FakeBrevo, brevo: Client) -> None:
    bad = email_body(headers={"idempotencyKey": "k-2"}, to=[{"email": "broken"}])
    error(brevo("POST", "smtp/email", bad), 400, "invalid_parameter")

    assert brevo("POST", "smtp/email", email_body(headers={"idempotencyKey": "k-2"})).status_code == 201


# --- Account limits: credits, an account not allowed to send, accepted messages per hour ------


def test_a_send_needing_more_credits_than_are_left_is_refused_whole(fake: FakeBrevo, brevo: Client) -> None:
    fake.set_credits(3)
    two = email_body(messageVersions=versions(2))
    del two["to"]

    assert brevo("POST", "smtp/email", two).status_code == 201
    message = error(brevo("POST", "smtp/email", two), 402, "not_enough_credits")

    assert "required: 2, available: 1" in message
    assert fake.accepted_emails() == ["user0@example.com", "user1@example.com"]
    assert fake.credits_left() == 1


def test_an_account_not_allowed_to_send_gets_403(fake: FakeBrevo, brevo: Client) -> None:
    fake.forbid_sending("Sender news@example.com is not valid")

    error(brevo("POST", "smtp/email", email_body()), 403, "permission_denied")
    fake.forbid_sending(None)

    assert brevo("POST", "smtp/email", email_body()).status_code == 201
    assert len(fake.accepted_emails()) == 1


def test_accepted_recipients_are_counted_per_hour_of_the_fakes_clock(fake: FakeBrevo, brevo: Client) -> None:
    moments = iter([datetime(2030, 1, 1, 13, 59, tzinfo=UTC), datetime(2030, 1, 1, 14, 0, 5, tzinfo=UTC)])
    now = next(moments)
    fake.set_clock(lambda: now)
    brevo("POST", "smtp/email", email_body())
    now = next(moments)
    brevo("POST", "smtp/email", email_body(to=[{"email": "a@example.com"}, {"email": "b@example.com"}]))

    assert fake.accepted_per_hour() == {
        datetime(2030, 1, 1, 13, tzinfo=UTC): 1,
        datetime(2030, 1, 1, 14, tzinfo=UTC): 2,
    }


@pytest.mark.parametrize(("status", "code"), [(402, "not_enough_credits"), (403, "permission_denied")])
def test_injected_account_refusals_speak_brevos_codes(fake: FakeBrevo, brevo: Client, status: int, code: str) -> None:
    fake.fail_next(1, status, path_prefix="smtp/email")

    error(brevo("POST", "smtp/email", email_body()), status, code)
    assert fake.messages == []
