"""The fake Brevo server refuses what Brevo refuses and accepts what it accepts.

No database: these run with or without pytest-django.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from config.tests.fake_brevo import FakeBrevo

API_KEY = "fake-brevo-key"
MESSAGE_ID_RE = re.compile(r"^<\d{12}\.\d{11}@smtp-relay\.mailin\.fr>$")
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBrevo]:
    fake = FakeBrevo(api_key=API_KEY).start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(server: FakeBrevo) -> Iterator[FakeBrevo]:
    server.reset()
    yield server
    server.reset()


class Client:
    """A thin requests wrapper that speaks to the fake like the project's client would."""

    def __init__(self, fake: FakeBrevo) -> None:
        self.base_url = fake.base_url
        self.session = requests.Session()
        self.session.headers["api-key"] = fake.api_key

    def __call__(self, method: str, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 5)
        if body is not None:
            kwargs["json"] = body
        return self.session.request(method, self.base_url + path, **kwargs)


@pytest.fixture
def brevo(fake: FakeBrevo) -> Iterator[Client]:
    client = Client(fake)
    yield client
    client.session.close()


def error(response: requests.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    return str(body["message"])


def make_list(brevo: Client, name: str = "Segment 1") -> int:
    folder_id = brevo("POST", "contacts/folders", {"name": "Segments"}).json()["id"]
    response = brevo("POST", "contacts/lists", {"name": name, "folderId": folder_id})
    assert response.status_code == 201
    return int(response.json()["id"])


def email_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sender": {"email": "news@example.com", "name": "News"},
        "subject": "Hello {{ params.first_name }}",
        "htmlContent": "<p>Hi {{ params.first_name }}</p>",
        "to": [{"email": "ann@example.com", "name": "Ann"}],
    }
    body.update(overrides)
    return body


def versions(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"to": [{"email": f"user{index}@example.com"}], **extra} for index in range(count)]


# -- common rules ----------------------------------------------------------------------------


def test_base_url_is_v3_with_trailing_slash(fake: FakeBrevo) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v3/", fake.base_url)


@pytest.mark.parametrize("headers", [{}, {"api-key": "wrong"}])
def test_requests_without_the_right_key_are_unauthorized(fake: FakeBrevo, headers: dict[str, str]) -> None:
    response = requests.post(fake.base_url + "contacts/folders", json={"name": "x"}, headers=headers, timeout=5)

    assert response.status_code == 401
    assert response.json() == {"code": "unauthorized", "message": "Key not found"}
    assert fake.folders == {}


def test_unknown_path_is_a_json_404(brevo: Client) -> None:
    error(brevo("GET", "nothing/here"), 404, "not_found")


def test_wrong_method_on_a_known_path_is_refused(brevo: Client) -> None:
    error(brevo("DELETE", "contacts/folders"), 405, "method_not_allowed")


def test_malformed_json_is_invalid_parameter(brevo: Client) -> None:
    response = brevo("POST", "contacts/folders", data=b"{not json", headers={"Content-Type": "application/json"})

    error(response, 400, "invalid_parameter")


def test_a_json_array_body_is_refused(brevo: Client) -> None:
    error(brevo("POST", "contacts/folders", ["Segments"]), 400, "invalid_parameter")


def test_a_body_that_is_not_declared_json_is_refused(brevo: Client) -> None:
    response = brevo("POST", "contacts/folders", data=b'{"name": "x"}', headers={"Content-Type": "text/plain"})

    error(response, 400, "invalid_parameter")


def test_a_body_over_10_mb_is_refused_with_413(fake: FakeBrevo, brevo: Client) -> None:
    list_id = make_list(brevo)
    padding = "x" * (10 * 1024 * 1024)
    body = {"fileBody": "EMAIL\n" + padding, "listIds": [list_id]}

    error(brevo("POST", "contacts/import", body, timeout=30), 413, "out_of_range")
    assert fake.processes == {}


def test_a_body_just_under_10_mb_is_accepted(brevo: Client) -> None:
    list_id = make_list(brevo)
    row = "a@example.com;" + "y" * 80 + "\n"
    file_body = "EMAIL;LASTNAME\n" + row * (9 * 1024 * 1024 // len(row))

    response = brevo("POST", "contacts/import", {"fileBody": file_body, "listIds": [list_id]}, timeout=30)

    assert response.status_code == 202


def test_every_request_is_logged_and_calls_filters_them(fake: FakeBrevo, brevo: Client) -> None:
    brevo("POST", "contacts/folders", {"name": "a"})
    brevo("GET", "contacts/folders/999")
    brevo("POST", "smtp/email", email_body())

    assert [(c["method"], c["path"], c["status"]) for c in fake.requests_log] == [
        ("POST", "/v3/contacts/folders", 201),
        ("GET", "/v3/contacts/folders/999", 404),
        ("POST", "/v3/smtp/email", 201),
    ]
    assert len(fake.calls("POST")) == 2
    assert len(fake.calls(path_prefix="contacts")) == 2
    assert fake.calls("POST", "/v3/smtp/email") == fake.calls(path_prefix="smtp/email")


def test_reset_clears_state_and_faults(fake: FakeBrevo, brevo: Client) -> None:
    make_list(brevo)
    brevo("POST", "smtp/email", email_body())
    fake.fail_next(5, 500)

    fake.reset()

    assert (fake.folders, fake.lists, fake.messages, fake.requests_log) == ({}, {}, [], [])
    assert brevo("POST", "contacts/folders", {"name": "x"}).status_code == 201


# -- folders and lists -----------------------------------------------------------------------


def test_folder_needs_a_name(brevo: Client) -> None:
    error(brevo("POST", "contacts/folders", {}), 400, "missing_parameter")


def test_folder_can_be_read_back(brevo: Client) -> None:
    folder_id = brevo("POST", "contacts/folders", {"name": "Segments"}).json()["id"]

    assert brevo("GET", f"contacts/folders/{folder_id}").json()["name"] == "Segments"
    error(brevo("GET", f"contacts/folders/{folder_id + 100}"), 404, "document_not_found")


@pytest.mark.parametrize("body", [{"name": "Segment"}, {"folderId": 1}])
def test_list_needs_name_and_folder(brevo: Client, body: dict[str, Any]) -> None:
    brevo("POST", "contacts/folders", {"name": "Segments"})

    error(brevo("POST", "contacts/lists", body), 400, "missing_parameter")


def test_list_in_an_unknown_folder_is_refused(fake: FakeBrevo, brevo: Client) -> None:
    error(brevo("POST", "contacts/lists", {"name": "Segment", "folderId": 42}), 404, "document_not_found")
    assert fake.lists == {}


def test_list_is_created_and_read_back(brevo: Client) -> None:
    list_id = make_list(brevo, "Active users")

    body = brevo("GET", f"contacts/lists/{list_id}").json()

    assert body["id"] == list_id
    assert body["name"] == "Active users"
    assert body["uniqueSubscribers"] == body["totalSubscribers"] == 0
    assert {"folderId", "createdAt"} <= body.keys()


def test_list_rename_and_move_one_at_a_time(fake: FakeBrevo, brevo: Client) -> None:
    list_id = make_list(brevo)
    other_folder = brevo("POST", "contacts/folders", {"name": "Archive"}).json()["id"]

    assert brevo("PUT", f"contacts/lists/{list_id}", {"name": "Renamed"}).status_code == 204
    assert brevo("PUT", f"contacts/lists/{list_id}", {"folderId": other_folder}).status_code == 204
    error(brevo("PUT", f"contacts/lists/{list_id}", {"name": "x", "folderId": other_folder}), 400, "invalid_parameter")
    error(brevo("PUT", f"contacts/lists/{list_id}", {}), 400, "missing_parameter")
    error(brevo("PUT", f"contacts/lists/{list_id}", {"folderId": 999}), 404, "document_not_found")

    assert fake.lists[list_id]["name"] == "Renamed"
    assert fake.lists[list_id]["folderId"] == other_folder


def test_deleting_a_list_keeps_its_contacts(fake: FakeBrevo, brevo: Client) -> None:
    list_id = make_list(brevo)
    fake.add_contact("ann@example.com")
    brevo("POST", f"contacts/lists/{list_id}/contacts/add", {"emails": ["ann@example.com"]})

    assert brevo("DELETE", f"contacts/lists/{list_id}").status_code == 204

    error(brevo("GET", f"contacts/lists/{list_id}"), 404, "document_not_found")
    error(brevo("DELETE", f"contacts/lists/{list_id}"), 404, "document_not_found")
    assert fake.contacts["ann@example.com"]["listIds"] == set()


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_unknown_list_is_404(brevo: Client, method: str) -> None:
    error(brevo(method, "contacts/lists/4242", {"name": "x"} if method == "PUT" else None), 404, "document_not_found")


def test_lists_page_is_at_most_50(brevo: Client) -> None:
    make_list(brevo)

    assert brevo("GET", "contacts/lists", params={"limit": 50}).json()["count"] == 1
    error(brevo("GET", "contacts/lists", params={"limit": 51}), 400, "out_of_range")


# -- list membership -------------------------------------------------------------------------


def test_list_contacts_are_paged_up_to_500(fake: FakeBrevo, brevo: Client) -> None:
    list_id = make_list(brevo)
    emails = [f"user{index}@example.com" for index in range(7)]
    for email in emails:
        fake.add_contact(email)
    brevo("POST", f"contacts/lists/{list_id}/contacts/add", {"emails": emails})

    first = brevo("GET", f"contacts/lists/{list_id}/contacts", params={"limit": 5, "offset": 0, "sort": "asc"})
    second = brevo("GET", f"contacts/lists/{list_id}/contacts", params={"limit": 5, "offset": 5, "sort": "asc"})

    assert first.json()["count"] == 7
    assert [c["email"] for c in first.json()["contacts"] + second.json()["contacts"]] == emails
    assert brevo("GET", f"contacts/lists/{list_id}/contacts", params={"limit": 500}).status_code == 200
    error(brevo("GET", f"contacts/lists/{list_id}/contacts", params={"limit": 501}), 400, "out_of_range")
    error(brevo("GET", f"contacts/lists/{list_id}/contacts", params={"limit": "ten"}), 400, "invalid_parameter")


def test_add_reports_success_and_failure(fake: FakeBrevo, brevo: Client) -> None:
    list_id = make_list(brevo)
    fake.add_contact("ann@example.com")

    response = brevo(
        "POST", f"contacts/lists/{list_id}/contacts/add", {"emails": ["Ann@example.com", "nobody@example.com"]}
    )

    assert response.status_code == 201
    assert response.json() == {"contacts": {"success": ["Ann@example.com"], "failure": ["nobody@example.com"]}}
    assert fake.lists[list_id]["members"] == {"ann@example.com"}


def test_add_with_nothing_to_add_is_400_like_brevo(fake: FakeBrevo, brevo: Client) -> None:
    list_id = make_list(brevo)
    fake.add_contact("ann@example.com")
    brevo("POST", f"contacts/lists/{list_id}/contacts/add", {"emails": ["ann@example.com"]})

    again = brevo("POST", f"contacts/lists/{list_id}/contacts/add", {"emails": ["ann@example.com"]})

    assert "already in list" in error(again, 400, "invalid_parameter")


@pytest.mark.parametrize("action", ["add", "remove"])
def test_list_changes_take_at_most_150_emails(fake: FakeBrevo, brevo: Client, action: str) -> None:
    list_id = make_list(brevo)
    emails = [f"user{index}@example.com" for index in range(151)]
    for email in emails:
        fake.add_contact(email)

    error(brevo("POST", f"contacts/lists/{list_id}/contacts/{action}", {"emails": emails}), 400, "out_of_range")
    error(brevo("POST", f"contacts/lists/{list_id}/contacts/{action}", {}), 400, "missing_parameter")
    if action == "add":
        assert brevo("POST", f"contacts/lists/{list_id}/contacts/add", {"emails": emails[:150]}).status_code == 201


def test_remove_emails_and_remove_all(fake: FakeBrevo, brevo: Client) -> None:
    list_id = make_list(brevo)
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        fake.add_contact(email)
    brevo("POST", f"contacts/lists/{list_id}/contacts/add", {"emails": ["a@example.com", "b@example.com"]})

    some = brevo("POST", f"contacts/lists/{list_id}/contacts/remove", {"emails": ["a@example.com", "c@example.com"]})
    assert some.json()["contacts"] == {"success": ["a@example.com"], "failure": ["c@example.com"]}
    error(
        brevo("POST", f"contacts/lists/{list_id}/contacts/remove", {"emails": ["a@example.com"]}),
        400,
        "invalid_parameter",
    )

    everyone = brevo("POST", f"contacts/lists/{list_id}/contacts/remove", {"all": True})
    assert everyone.status_code == 201
    assert everyone.json()["contacts"]["success"] == ["b@example.com"]
    assert fake.lists[list_id]["members"] == set()
    assert "b@example.com" in fake.contacts


# -- import ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sources", "code"),
    [
        ({}, "missing_parameter"),
        ({"jsonBody": [{"email": "a@example.com"}], "fileBody": "EMAIL\na@example.com"}, "invalid_parameter"),
        ({"jsonBody": [], "fileUrl": "https://example.com/contacts.csv"}, "invalid_parameter"),
    ],
)
def test_import_needs_exactly_one_source(brevo: Client, sources: dict[str, Any], code: str) -> None:
    list_id = make_list(brevo)

    error(brevo("POST", "contacts/import", {**sources, "listIds": [list_id]}), 400, code)


def test_import_needs_list_ids_unless_new_list(fake: FakeBrevo, brevo: Client) -> None:
    folder_id = brevo("POST", "contacts/folders", {"name": "Segments"}).json()["id"]
    rows = [{"email": "a@example.com"}]

    error(brevo("POST", "contacts/import", {"jsonBody": rows}), 400, "missing_parameter")
    error(brevo("POST", "contacts/import", {"jsonBody": rows, "listIds": [999]}), 404, "document_not_found")
    response = brevo(
        "POST", "contacts/import", {"jsonBody": rows, "newList": {"listName": "New", "folderId": folder_id}}
    )

    assert response.status_code == 202
    [new_list] = fake.lists.values()
    assert new_list["name"] == "New"
    assert new_list["members"] == {"a@example.com"}


def test_import_refuses_unknown_attributes_and_rows_without_email(fake: FakeBrevo, brevo: Client) -> None:
    list_id = make_list(brevo)

    unknown = brevo(
        "POST",
        "contacts/import",
        {"jsonBody": [{"email": "a@example.com", "attributes": {"AGE": 3}}], "listIds": [list_id]},
    )
    lower_case = brevo(
        "POST",
        "contacts/import",
        {"jsonBody": [{"email": "a@example.com", "attributes": {"firstname": "A"}}], "listIds": [list_id]},
    )
    csv_column = brevo("POST", "contacts/import", {"fileBody": "EMAIL;AGE\na@example.com;3", "listIds": [list_id]})
    no_email = brevo(
        "POST", "contacts/import", {"jsonBody": [{"attributes": {"FIRSTNAME": "A"}}], "listIds": [list_id]}
    )

    assert "AGE" in error(unknown, 400, "invalid_parameter")
    error(lower_case, 400, "invalid_parameter")
    error(csv_column, 400, "invalid_parameter")
    error(no_email, 400, "missing_parameter")
    assert fake.processes == {}


def test_import_applies_only_when_the_process_completes(fake: FakeBrevo, brevo: Client) -> None:
    list_id = make_list(brevo)
    fake.set_process_delay(2)
    rows = [{"email": "Ann@Example.com", "attributes": {"FIRSTNAME": "Ann", "SMS": "+33612345678"}}]

    process_id = brevo("POST", "contacts/import", {"jsonBody": rows, "listIds": [list_id]}).json()["processId"]
    statuses = [brevo("GET", f"processes/{process_id}").json()["status"] for _ in range(2)]
    assert fake.contacts == {}
    final = brevo("GET", f"processes/{process_id}").json()

    assert statuses == ["queued", "in_process"]
    assert final["status"] == "completed"
    assert final["id"] == process_id
    assert fake.contacts["ann@example.com"]["attributes"] == {"FIRSTNAME": "Ann", "SMS": "+33612345678"}
    assert fake.lists[list_id]["members"] == {"ann@example.com"}


def test_unknown_process_is_404(brevo: Client) -> None:
    error(brevo("GET", "processes/777"), 404, "document_not_found")


def test_a_failed_import_changes_nothing(fake: FakeBrevo, brevo: Client) -> None:
    list_id = make_list(brevo)
    fake.fail_next_imports(1)

    process_id = brevo(
        "POST", "contacts/import", {"jsonBody": [{"email": "a@example.com"}], "listIds": [list_id]}
    ).json()["processId"]

    assert brevo("GET", f"processes/{process_id}").json()["status"] == "failed"
    assert fake.contacts == {}


def test_import_updates_adds_and_never_removes(fake: FakeBrevo, brevo: Client) -> None:
    list_id = make_list(brevo)
    fake.add_contact("old@example.com", {"FIRSTNAME": "Old", "LASTNAME": "Name"})
    brevo("POST", f"contacts/lists/{list_id}/contacts/add", {"emails": ["old@example.com"]})
    file_body = "EMAIL;FIRSTNAME;LASTNAME\nold@example.com;New;\nnew@example.com;Neo;One\n"

    brevo("POST", "contacts/import", {"fileBody": file_body, "listIds": [list_id], "updateExistingContacts": True})

    assert fake.contacts["old@example.com"]["attributes"] == {"FIRSTNAME": "New", "LASTNAME": "Name"}
    assert fake.lists[list_id]["members"] == {"old@example.com", "new@example.com"}


def test_import_options_control_updates_and_erasing(fake: FakeBrevo, brevo: Client) -> None:
    list_id = make_list(brevo)
    fake.add_contact("a@example.com", {"FIRSTNAME": "A", "LASTNAME": "Z"})
    fake.add_contact("b@example.com", {"FIRSTNAME": "B", "LASTNAME": "Y"})

    brevo(
        "POST",
        "contacts/import",
        {
            "jsonBody": [{"email": "a@example.com", "attributes": {"FIRSTNAME": "X"}}],
            "listIds": [list_id],
            "updateExistingContacts": False,
        },
    )
    brevo(
        "POST",
        "contacts/import",
        {
            "jsonBody": [{"email": "b@example.com", "attributes": {"LASTNAME": ""}}],
            "listIds": [list_id],
            "emptyContactsAttributes": True,
        },
    )

    assert fake.contacts["a@example.com"]["attributes"] == {"FIRSTNAME": "A", "LASTNAME": "Z"}
    assert fake.contacts["b@example.com"]["attributes"] == {"FIRSTNAME": "B"}
    assert fake.lists[list_id]["members"] == {"a@example.com", "b@example.com"}


def test_import_skips_rows_brevo_would_reject(fake: FakeBrevo, brevo: Client) -> None:
    list_id = make_list(brevo)
    fake.add_contact("holder@example.com", {"SMS": "+33611111111"})
    rows = [
        {"email": "not-an-email"},
        {"email": "bad-sms@example.com", "attributes": {"SMS": "0611"}},
        {"email": "taken-sms@example.com", "attributes": {"SMS": "+33611111111"}},
        {"email": "fine@example.com", "attributes": {"SMS": "+33622222222"}},
    ]

    process_id = brevo("POST", "contacts/import", {"jsonBody": rows, "listIds": [list_id]}).json()["processId"]

    assert fake.lists[list_id]["members"] == {"fine@example.com"}
    assert [row["reason"] for row in fake.processes[process_id]["skipped"]] == [
        "invalid email",
        "invalid SMS",
        "SMS already in use",
    ]


# -- transactional email ---------------------------------------------------------------------


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
    fake.idempotency_window_seconds = 0.2
    body = email_body(headers={"idempotencyKey": "k-1"})
    brevo("POST", "smtp/email", body)

    time.sleep(0.3)

    assert brevo("POST", "smtp/email", body).status_code == 201
    assert fake.accepted_emails() == ["ann@example.com", "ann@example.com"]
    fake.idempotency_window_seconds = 30 * 60


def test_a_refused_request_does_not_use_up_its_key(fake: FakeBrevo, brevo: Client) -> None:
    bad = email_body(headers={"idempotencyKey": "k-2"}, to=[{"email": "broken"}])
    error(brevo("POST", "smtp/email", bad), 400, "invalid_parameter")

    assert brevo("POST", "smtp/email", email_body(headers={"idempotencyKey": "k-2"})).status_code == 201


# -- blocklist -------------------------------------------------------------------------------


def test_blocked_contacts_are_listed_and_unblocked(fake: FakeBrevo, brevo: Client) -> None:
    fake.block("Gone@example.com", "unsubscribedViaEmail")

    listing = brevo("GET", "smtp/blockedContacts").json()
    assert listing["count"] == 1
    [entry] = listing["contacts"]
    assert entry["email"] == "gone@example.com"
    assert entry["reason"]["code"] == "unsubscribedViaEmail"
    assert "blockedAt" in entry

    assert brevo("DELETE", "smtp/blockedContacts/gone%40example.com").status_code == 204
    error(brevo("DELETE", "smtp/blockedContacts/gone%40example.com"), 404, "document_not_found")
    assert brevo("GET", "smtp/blockedContacts").json() == {"contacts": [], "count": 0}


def test_blocked_contacts_paging_and_dates_are_checked(fake: FakeBrevo, brevo: Client) -> None:
    fake.block("a@example.com")
    today = time.strftime("%Y-%m-%d", time.gmtime())

    error(brevo("GET", "smtp/blockedContacts", params={"limit": 101}), 400, "out_of_range")
    error(brevo("GET", "smtp/blockedContacts", params={"startDate": today}), 400, "invalid_parameter")
    in_range = brevo("GET", "smtp/blockedContacts", params={"startDate": today, "endDate": today})
    assert in_range.json()["count"] == 1
    before = brevo("GET", "smtp/blockedContacts", params={"startDate": "2000-01-01", "endDate": "2000-01-02"})
    assert before.json()["count"] == 0


def test_block_refuses_unknown_reasons(fake: FakeBrevo) -> None:
    with pytest.raises(ValueError, match="unknown Brevo block reason"):
        fake.block("a@example.com", "because")


# -- faults ----------------------------------------------------------------------------------


def test_fail_next_answers_the_status_then_recovers(fake: FakeBrevo, brevo: Client) -> None:
    fake.fail_next(2, 503)

    statuses = [brevo("POST", "smtp/email", email_body()).status_code for _ in range(3)]

    assert statuses == [503, 503, 201]
    assert len(fake.messages) == 1


def test_fail_next_429_carries_brevo_rate_limit_headers(brevo: Client, fake: FakeBrevo) -> None:
    fake.fail_next(1, 429, reset_seconds=7)

    response = brevo("GET", "contacts/lists")

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
    response = brevo("GET", "contacts/lists")

    assert response.status_code == 502
    assert time.monotonic() - started >= 0.2


def test_random_faults_are_seeded_and_can_be_turned_off(fake: FakeBrevo, brevo: Client) -> None:
    def run() -> list[int]:
        fake.fail_randomly(0.5, statuses=(429, 500), seed=7, path_prefix="contacts")
        return [brevo("GET", "contacts/lists").status_code for _ in range(40)]

    first, second = run(), run()

    assert first == second
    assert {200, 429, 500} == set(first)
    fake.fail_randomly(0)
    assert all(brevo("GET", "contacts/lists").status_code == 200 for _ in range(10))


def test_random_drops(fake: FakeBrevo, brevo: Client) -> None:
    fake.fail_randomly(0, drop_rate=1.0)

    with pytest.raises(requests.ConnectionError):
        brevo("GET", "contacts/lists")


def test_limit_rate_answers_429_over_the_limit(fake: FakeBrevo, brevo: Client) -> None:
    fake.limit_rate(3, path_prefix="contacts")

    statuses = [brevo("GET", "contacts/lists").status_code for _ in range(5)]

    assert statuses[:3] == [200, 200, 200]
    assert 429 in statuses[3:]
    assert brevo("POST", "smtp/email", email_body()).status_code == 201


def test_concurrent_sends_are_all_stored_once(fake: FakeBrevo) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def send(index: int) -> int:
        body = email_body(to=[{"email": f"user{index}@example.com"}])
        return requests.post(
            fake.base_url + "smtp/email", json=body, headers={"api-key": fake.api_key}, timeout=5
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(send, range(50)))

    assert statuses == [201] * 50
    assert sorted(fake.accepted_emails()) == sorted(f"user{index}@example.com" for index in range(50))
    assert len({m["message_id"] for m in fake.messages}) == 50


# -- running by hand -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_runs_from_the_command_line() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "config.tests.fake_brevo", "--port", str(port), "--api-key", "cli-key"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url == f"http://127.0.0.1:{port}/v3/"
        response = requests.post(
            base_url + "contacts/folders", json={"name": "x"}, headers={"api-key": "cli-key"}, timeout=5
        )
        assert response.json() == {"id": 1}
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    assert process.returncode == 0


def test_error_bodies_are_json(brevo: Client) -> None:
    response = brevo("GET", "contacts/lists/1")

    assert response.headers["Content-Type"].startswith("application/json")
    assert json.loads(response.text).keys() == {"code", "message"}
