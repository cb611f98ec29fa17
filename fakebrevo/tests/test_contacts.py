"""Folders, lists, list removals and imports: refused where Brevo refuses, applied as Brevo applies them."""

from __future__ import annotations

from typing import Any

import pytest

from fakebrevo import FakeBrevo
from fakebrevo.tests.client import Client, add_to_list, error, make_list


def test_folder_needs_a_name(brevo: Client) -> None:
    error(brevo("POST", "contacts/folders", {}), 400, "missing_parameter")


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
    add_to_list(brevo, list_id, ["ann@example.com"])

    assert brevo("DELETE", f"contacts/lists/{list_id}").status_code == 204

    error(brevo("GET", f"contacts/lists/{list_id}"), 404, "document_not_found")
    error(brevo("DELETE", f"contacts/lists/{list_id}"), 404, "document_not_found")
    assert fake.contacts["ann@example.com"]["listIds"] == set()


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_unknown_list_is_404(brevo: Client, method: str) -> None:
    error(brevo(method, "contacts/lists/4242", {"name": "x"} if method == "PUT" else None), 404, "document_not_found")


def test_list_removals_take_at_most_150_emails(fake: FakeBrevo, brevo: Client) -> None:
    list_id = make_list(brevo)
    emails = [f"user{index}@example.com" for index in range(151)]
    add_to_list(brevo, list_id, emails)

    error(brevo("POST", f"contacts/lists/{list_id}/contacts/remove", {"emails": emails}), 400, "out_of_range")
    error(brevo("POST", f"contacts/lists/{list_id}/contacts/remove", {}), 400, "missing_parameter")
    assert brevo("POST", f"contacts/lists/{list_id}/contacts/remove", {"emails": emails[:150]}).status_code == 201


def test_remove_emails_and_remove_all(fake: FakeBrevo, brevo: Client) -> None:
    list_id = make_list(brevo)
    fake.add_contact("c@example.com")
    add_to_list(brevo, list_id, ["a@example.com", "b@example.com"])

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
    add_to_list(brevo, list_id, ["old@example.com"])
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
