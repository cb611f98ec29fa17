"""The contacts client against the fake Brevo server: calls, errors, back-off, logging."""

from __future__ import annotations

import json
import logging
import socket
from typing import Any

import pytest

from brevo import (
    MAX_IMPORT_BODY_BYTES,
    BrevoClient,
    BrevoError,
    BrevoNotConfiguredError,
    ImportBatch,
    ImportContact,
    brevo_client,
    brevo_sms,
)


class Clock:
    """Records the waits the client asks for instead of sleeping."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_client(brevo: Any, clock: Clock, **options: Any) -> BrevoClient:
    # Jitter returns its upper bound, so the tests see the ceiling of each back-off.
    return BrevoClient(
        api_key=brevo.api_key,
        base_url=brevo.base_url,
        sleep=clock.sleep,
        jitter=lambda low, high: high,
        **options,
    )


@pytest.fixture
def client(brevo: Any, clock: Clock) -> BrevoClient:
    return make_client(brevo, clock)


def test_folder_and_list_lifecycle(brevo: Any, client: BrevoClient) -> None:
    folder_id = client.folder_create(name="Segments")
    list_id = client.list_create(name="London", folder_id=folder_id)
    assert brevo.lists[list_id]["folderId"] == folder_id

    client.list_rename(list_id=list_id, name="Greater London")
    assert client.list_get(list_id=list_id)["name"] == "Greater London"

    client.list_delete(list_id=list_id)
    assert list_id not in brevo.lists


def test_error_carries_status_code_message_and_request(client: BrevoClient) -> None:
    with pytest.raises(BrevoError) as caught:
        client.list_get(list_id=999)
    error = caught.value
    assert (error.status, error.code, error.message) == (404, "document_not_found", "List ID does not exist")
    assert (error.method, error.path) == ("GET", "/contacts/lists/999")
    assert error.not_found
    assert not error.unreachable
    assert "404 document_not_found" in str(error)


def test_bad_api_key_is_one_clear_error(brevo: Any, clock: Clock) -> None:
    client = BrevoClient(api_key="wrong", base_url=brevo.base_url, sleep=clock.sleep)
    with pytest.raises(BrevoError) as caught:
        client.folder_create(name="Segments")
    assert caught.value.status == 401
    assert "Check BREVO_API_KEY" in caught.value.describe()
    assert len(brevo.calls()) == 1  # refused, not retried
    assert clock.sleeps == []


def test_refusals_are_not_retried(brevo: Any, client: BrevoClient, clock: Clock) -> None:
    with pytest.raises(BrevoError) as caught:
        client.list_create(name="No folder", folder_id=12345)
    assert caught.value.status == 404
    assert len(brevo.calls("POST", "contacts/lists")) == 1
    assert clock.sleeps == []


def test_429_waits_until_brevo_rate_limit_reset(brevo: Any, client: BrevoClient, clock: Clock) -> None:
    folder_id = client.folder_create(name="Segments")
    brevo.fail_next(3, 429, path_prefix="contacts/lists", reset_seconds=4)

    list_id = client.list_create(name="London", folder_id=folder_id)

    assert list_id in brevo.lists
    # The reset the header gave, plus at most one base delay of jitter (the upper bound here).
    assert clock.sleeps == [4.5, 4.5, 4.5]
    assert [call["status"] for call in brevo.calls("POST", "contacts/lists")] == [429, 429, 429, 201]


def test_429_bursts_have_a_budget_of_their_own(brevo: Any, client: BrevoClient, clock: Clock) -> None:
    brevo.fail_next(100, 429, path_prefix="contacts/folders", reset_seconds=1)
    with pytest.raises(BrevoError) as caught:
        client.folder_create(name="Segments")
    assert caught.value.status == 429
    assert caught.value.unreachable
    assert len(clock.sleeps) == 20
    assert len(brevo.calls("POST", "contacts/folders")) == 21


def test_5xx_retried_with_growing_jittered_delays(brevo: Any, client: BrevoClient, clock: Clock) -> None:
    brevo.fail_next(3, 500, path_prefix="contacts/folders")
    assert client.folder_create(name="Segments") in brevo.folders
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_5xx_storm_past_the_budget_raises(brevo: Any, clock: Clock) -> None:
    client = make_client(brevo, clock, retry_attempts=3)
    brevo.fail_next(10, 503, path_prefix="contacts/folders")
    with pytest.raises(BrevoError) as caught:
        client.folder_create(name="Segments")
    assert caught.value.status == 503
    assert caught.value.unreachable
    assert "try again later" in caught.value.describe()
    assert len(brevo.calls("POST", "contacts/folders")) == 3
    assert len(clock.sleeps) == 2


def test_dropped_connection_retried_when_repeating_is_harmless(brevo: Any, client: BrevoClient) -> None:
    folder_id = client.folder_create(name="Segments")
    list_id = client.list_create(name="London", folder_id=folder_id)
    brevo.fail_next(2, drop=True, path_prefix=f"contacts/lists/{list_id}")
    assert client.list_get(list_id=list_id)["id"] == list_id
    assert len(brevo.calls("GET", f"contacts/lists/{list_id}")) == 3


def test_dropped_connection_not_retried_for_a_create(brevo: Any, client: BrevoClient) -> None:
    # Brevo may have created the folder before the connection dropped: a retry could make two.
    brevo.fail_next(1, drop=True, path_prefix="contacts/folders")
    with pytest.raises(BrevoError) as caught:
        client.folder_create(name="Segments")
    assert caught.value.status is None
    assert caught.value.unreachable
    assert len(brevo.calls("POST", "contacts/folders")) == 1


def test_connection_refused_is_retried_then_reported(clock: Clock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = BrevoClient(api_key="key", base_url=f"http://127.0.0.1:{port}/v3/", sleep=clock.sleep, retry_attempts=3)
    with pytest.raises(BrevoError) as caught:
        client.folder_create(name="Segments")
    assert caught.value.status is None
    assert caught.value.code == "connection_error"
    assert "could not be reached" in caught.value.describe()
    # Nothing reached a server, so even the create was retried.
    assert len(clock.sleeps) == 2


def test_import_then_process(brevo: Any, client: BrevoClient) -> None:
    folder_id = client.folder_create(name="Segments")
    list_id = client.list_create(name="London", folder_id=folder_id)
    brevo.set_process_delay(1)
    batch = ImportBatch(list_id=list_id)
    assert batch.add(ImportContact(email="ann@example.com", attributes={"FIRSTNAME": "Ann", "SMS": "+447700900123"}))
    process_id = client.contacts_import(batch=batch)
    assert client.process_get(process_id=process_id)["status"] == "queued"
    assert client.process_get(process_id=process_id)["status"] == "completed"
    assert brevo.lists[list_id]["members"] == {"ann@example.com"}
    body = brevo.calls("POST", "contacts/import")[0]["body"]
    assert body["listIds"] == [list_id]
    assert body["updateExistingContacts"] is True


def test_import_batch_stops_at_its_byte_or_contact_limit(brevo: Any, client: BrevoClient) -> None:
    contact = ImportContact(email="ann@example.com", attributes={"FIRSTNAME": "x" * 100})
    by_size = ImportBatch(list_id=1)
    while by_size.add(contact):
        pass
    assert len(by_size.body()) == by_size.size <= MAX_IMPORT_BODY_BYTES
    assert by_size.size + len(contact.encoded()) + 1 > MAX_IMPORT_BODY_BYTES
    first = json.loads(by_size.body())["jsonBody"][0]
    assert first == {"email": "ann@example.com", "attributes": {"FIRSTNAME": "x" * 100}}

    by_count = ImportBatch(list_id=1, max_contacts=3)
    assert [by_count.add(contact) for _ in range(4)] == [True, True, True, False]
    assert len(by_count) == 3

    with pytest.raises(ValueError, match="at least one contact"):
        client.contacts_import(batch=ImportBatch(list_id=1))
    assert brevo.calls() == []


def test_list_remove_limits_and_idempotence(brevo: Any, client: BrevoClient) -> None:
    folder_id = client.folder_create(name="Segments")
    list_id = client.list_create(name="London", folder_id=folder_id)
    for email in ("ann@example.com", "bob@example.com"):
        brevo.add_contact(email)
        brevo.lists[list_id]["members"].add(email)
        brevo.contacts[email]["listIds"].add(list_id)

    assert client.list_remove(list_id=list_id, emails=["ann@example.com", "bob@example.com"]) == 2
    # A repeat (say, a retry after a lost answer) finds nothing to remove: done, not an error.
    assert client.list_remove(list_id=list_id, emails=["ann@example.com"]) == 0
    with pytest.raises(ValueError, match="150"):
        client.list_remove(list_id=list_id, emails=[f"u{i}@example.com" for i in range(151)])
    with pytest.raises(BrevoError) as caught:
        client.list_remove(list_id=999, emails=["ann@example.com"])
    assert caught.value.not_found


def test_each_call_is_logged(brevo: Any, client: BrevoClient, caplog: pytest.LogCaptureFixture) -> None:
    brevo.fail_next(1, 500, path_prefix="contacts/folders")
    with caplog.at_level(logging.INFO, logger="brevo.contacts"):
        client.folder_create(name="Segments")
    messages = [record.getMessage() for record in caplog.records]
    assert any(message.startswith("brevo POST /contacts/folders -> 500") for message in messages)
    assert any(message.startswith("brevo POST /contacts/folders -> 201") for message in messages)


def test_client_reads_settings(brevo: Any, settings: Any) -> None:
    client = brevo_client()
    assert client.base_url == brevo.base_url
    assert client.api_key == brevo.api_key
    settings.BREVO_API_KEY = ""
    with pytest.raises(BrevoNotConfiguredError):
        brevo_client()


@pytest.mark.parametrize(
    ("phone", "sms"),
    [
        ("+44 7700 900123", "+447700900123"),
        ("0044 (7700) 900-123", "+447700900123"),
        ("447700900123", "447700900123"),
        ("07700 900123", None),
        ("call me", None),
        ("+12", None),
    ],
)
def test_brevo_sms(phone: str, sms: str | None) -> None:
    assert brevo_sms(phone) == sms
