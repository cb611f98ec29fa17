"""django-anymail's real Brevo backend against the fake: the request it builds is one the fake
(and so Brevo) accepts, and the answer the fake gives is one Anymail parses.

Runs under the project's pytest-django settings, or standalone
(`-p no:django --confcutdir=fakebrevo fakebrevo/tests`) with a minimal in-process configuration.
"""

from __future__ import annotations

import os
import uuid

import pytest
from anymail.exceptions import AnymailRequestsAPIError
from anymail.message import AnymailMessage
from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend

from fakebrevo import FakeBrevo

BREVO_BACKEND = "anymail.backends.brevo.EmailBackend"
RECIPIENTS = ["ann@example.com", "bob@example.com", "cid@example.com"]


@pytest.fixture(scope="module", autouse=True)
def _django_configured() -> None:
    # Under pytest-django the project's test settings are loaded already.
    if not settings.configured and "DJANGO_SETTINGS_MODULE" not in os.environ:
        settings.configure(DEFAULT_FROM_EMAIL="News <news@example.com>")


@pytest.fixture
def connection(fake: FakeBrevo) -> BaseEmailBackend:
    return get_connection(BREVO_BACKEND, api_key=fake.api_key, api_url=fake.base_url)


def batch_message(connection: BaseEmailBackend, recipients: list[str], idempotency_key: str) -> AnymailMessage:
    message = AnymailMessage(
        subject="Hello {{ params.first_name }}",
        body="Hi {{ params.first_name }}",
        from_email="News <news@example.com>",
        to=recipients,
        connection=connection,
    )
    message.attach_alternative("<p>Hi {{ params.first_name }}</p>", "text/html")
    message.merge_data = {email: {"first_name": email.split("@")[0].title()} for email in recipients}
    message.merge_global_data = {"brand": "Acme"}
    message.merge_headers = {
        email: {
            "List-Unsubscribe": f"<https://example.com/unsubscribe/{email}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        for email in recipients
    }
    message.extra_headers = {"idempotencyKey": idempotency_key}
    message.tags = ["campaign-7"]
    return message


def test_anymail_batch_is_accepted_with_one_message_per_recipient(
    fake: FakeBrevo, connection: BaseEmailBackend
) -> None:
    key = str(uuid.uuid4())
    message = batch_message(connection, RECIPIENTS, key)

    assert message.send() == 1

    assert fake.accepted_emails() == RECIPIENTS
    [request] = fake.calls("POST", "smtp/email")
    assert len(request["body"]["messageVersions"]) == 3
    for stored in fake.messages:
        email = stored["to"]
        assert stored["params"] == {"brand": "Acme", "first_name": email.split("@")[0].title()}
        assert stored["headers"]["List-Unsubscribe"] == f"<https://example.com/unsubscribe/{email}>"
        assert stored["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert stored["idempotency_key"] == key
        assert stored["subject"] == "Hello {{ params.first_name }}"
        assert stored["tags"] == ["campaign-7"]
        assert stored["sender"]["email"] == "news@example.com"
        assert message.anymail_status.recipients[email].message_id == stored["message_id"]
        assert message.anymail_status.recipients[email].status == "queued"
    assert len({stored["message_id"] for stored in fake.messages}) == 3


def test_anymail_retry_after_an_unanswered_accept_is_refused_as_duplicate(
    fake: FakeBrevo, connection: BaseEmailBackend
) -> None:
    key = str(uuid.uuid4())
    fake.drop_after_accept_next(1)

    with pytest.raises(AnymailRequestsAPIError):
        batch_message(connection, RECIPIENTS, key).send()
    with pytest.raises(AnymailRequestsAPIError) as retry:
        batch_message(connection, RECIPIENTS, key).send()

    assert retry.value.status_code == 400
    assert "duplicate_parameter" in retry.value.response.text
    assert fake.accepted_emails() == RECIPIENTS


def test_anymail_surfaces_a_429_without_sending(fake: FakeBrevo, connection: BaseEmailBackend) -> None:
    fake.fail_next(1, 429, reset_seconds=2)

    with pytest.raises(AnymailRequestsAPIError) as refused:
        batch_message(connection, RECIPIENTS, str(uuid.uuid4())).send()

    assert refused.value.status_code == 429
    assert refused.value.response.headers["x-sib-ratelimit-reset"] == "2"
    assert fake.messages == []


def test_anymail_does_not_split_batches_so_1001_recipients_are_refused(
    fake: FakeBrevo, connection: BaseEmailBackend
) -> None:
    recipients = [f"user{index}@example.com" for index in range(1001)]

    with pytest.raises(AnymailRequestsAPIError) as refused:
        batch_message(connection, recipients, str(uuid.uuid4())).send()

    assert refused.value.status_code == 400
    assert "out_of_range" in refused.value.response.text
    assert fake.messages == []


def test_anymail_with_a_wrong_key_is_unauthorized(fake: FakeBrevo) -> None:
    connection = get_connection(BREVO_BACKEND, api_key="not-the-key", api_url=fake.base_url)

    with pytest.raises(AnymailRequestsAPIError) as refused:
        batch_message(connection, RECIPIENTS, str(uuid.uuid4())).send()

    assert refused.value.status_code == 401
