"""CORS for a frontend on its own origin, and API docs that render from the project's own files."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db

ALLOWED = "https://app.example.com"
REFUSED = "https://evil.example.net"


@pytest.fixture(autouse=True)
def _allowed_origin(settings) -> None:
    settings.CORS_ALLOWED_ORIGINS = [ALLOWED]


def preflight(client: Client, origin: str, path: str = "/api/segments/") -> object:
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )


def test_preflight_from_an_allowed_origin_allows_bearer_tokens_but_no_cookies(client: Client) -> None:
    answer = preflight(client, ALLOWED)
    assert answer.status_code == 200
    assert answer["Access-Control-Allow-Origin"] == ALLOWED
    assert {"authorization", "content-type"} <= set(answer["Access-Control-Allow-Headers"].split(", "))
    assert "POST" in answer["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in answer


def test_preflight_from_another_origin_gets_no_cors_headers(client: Client) -> None:
    answer = preflight(client, REFUSED)
    assert "Access-Control-Allow-Origin" not in answer


def test_actual_requests_carry_cors_headers_for_the_allowed_origin_only(client: Client, admin_user) -> None:
    allowed = client.get("/api/auth/me/", HTTP_ORIGIN=ALLOWED)
    assert allowed.status_code == 401
    assert allowed["Access-Control-Allow-Origin"] == ALLOWED
    assert "Retry-After" in allowed["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Origin" not in client.get("/api/auth/me/", HTTP_ORIGIN=REFUSED)


def test_no_origin_is_allowed_by_default(client: Client, settings) -> None:
    settings.CORS_ALLOWED_ORIGINS = []
    assert "Access-Control-Allow-Origin" not in preflight(client, ALLOWED)


def test_cors_covers_the_api_only(client: Client) -> None:
    assert "Access-Control-Allow-Origin" not in preflight(client, ALLOWED, "/admin/login/")


def test_swagger_ui_loads_its_assets_from_the_project(client: Client) -> None:
    page = client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), asset
    assert "cdn" not in page.lower()


def test_the_schema_is_public(client: Client) -> None:
    answer = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert answer.status_code == 200
    assert answer.json()["openapi"].startswith("3.")
