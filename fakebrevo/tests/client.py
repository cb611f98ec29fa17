"""Speaking to the fake as the project's client would, and reading its answers."""

from __future__ import annotations

from typing import Any

import requests

from fakebrevo import FakeBrevo

API_KEY = "fake-brevo-key"


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


def add_to_list(brevo: Client, list_id: int, emails: list[str]) -> None:
    """Put existing or new contacts on a list the way the project does: a bulk import."""
    response = brevo(
        "POST", "contacts/import", {"jsonBody": [{"email": email} for email in emails], "listIds": [list_id]}
    )
    assert response.status_code == 202, response.text


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
