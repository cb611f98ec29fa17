"""Rules every route shares: authentication, routing, bodies, the request log, resets."""

from __future__ import annotations

import json
import re

import pytest
import requests

from fakebrevo import FakeBrevo
from fakebrevo.tests.client import Client, email_body, error, make_list


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


def test_error_bodies_are_json(brevo: Client) -> None:
    response = brevo("GET", "contacts/lists/1")

    assert response.headers["Content-Type"].startswith("application/json")
    assert json.loads(response.text).keys() == {"code", "message"}


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
