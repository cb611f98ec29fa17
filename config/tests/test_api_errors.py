"""Every error the API gives in the one format (`config.api`), from each layer that can refuse:
routing, authentication, throttling, parsing, serializers, pagination and the services."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from core.testing import error_body, error_code, error_codes

pytestmark = pytest.mark.django_db


def test_an_unknown_url_under_the_api_is_a_404_in_the_format(admin_client_api: APIClient) -> None:
    answer = admin_client_api.get("/api/campaigns/not-an-id/")
    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/json"
    assert error_code(answer) == "not_found"


def test_an_unknown_page_elsewhere_stays_the_site_page(client: Any) -> None:
    answer = client.get("/no-such-page/")
    assert answer.status_code == 404
    assert answer["Content-Type"].startswith("text/html")


def test_a_bad_token_is_one_401_entry_with_its_code_and_a_challenge(api_client: APIClient) -> None:
    answer = api_client.get("/api/segments/", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"].startswith("Bearer")
    assert error_body(answer)["errors"] == [
        {"code": "token_not_valid", "detail": "Given token not valid for any token type", "attr": None}
    ]


def test_unknown_fields_and_coerced_types_are_refused_naming_each(admin_client_api: APIClient) -> None:
    answer = admin_client_api.post(
        "/api/segments/", {"name": "Spain", "countries": ["ES"], "nmae": "typo", "agents": ["7"]}, format="json"
    )
    assert answer.status_code == 400
    assert error_codes(answer) == {"nmae": ["unknown_field"], "agents.0": ["invalid_type"]}


def test_ids_past_64_bits_are_refused_not_overflowed(admin_client_api: APIClient) -> None:
    answer = admin_client_api.post("/api/segments/preview/", {"agents": [2**63]}, format="json")
    assert answer.status_code == 400
    assert error_codes(answer) == {"agents.0": ["max_value"]}


def test_a_body_that_is_not_json_is_a_parse_error_or_a_415(admin_client_api: APIClient) -> None:
    broken = admin_client_api.post("/api/segments/", "{", content_type="application/json")
    assert (broken.status_code, error_body(broken)["type"], error_code(broken)) == (400, "client_error", "parse_error")
    form = admin_client_api.post("/api/segments/", "name=Spain", content_type="application/x-www-form-urlencoded")
    assert (form.status_code, error_code(form)) == (415, "unsupported_media_type")


@pytest.mark.parametrize("query", ["page_size=0", "page_size=201", "page_size=1307674368001", "page=0", "page=x"])
def test_page_bounds_are_400s_naming_the_parameter(admin_client_api: APIClient, query: str) -> None:
    answer = admin_client_api.get(f"/api/segments/?{query}")
    assert answer.status_code == 400
    assert set(error_codes(answer)) == {query.split("=")[0]}


def test_a_page_past_the_last_is_a_404(admin_client_api: APIClient) -> None:
    answer = admin_client_api.get("/api/segments/?page=2")
    assert (answer.status_code, error_code(answer)) == (404, "not_found")


def test_the_per_user_rate_is_a_429_with_retry_after(admin_client_api: APIClient, settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user": "1/minute"},
    }
    assert admin_client_api.get("/api/segments/").status_code == 200
    answer = admin_client_api.get("/api/segments/")
    assert answer.status_code == 429
    assert int(answer["Retry-After"]) > 0
    assert error_code(answer) == "throttled"


def test_the_schema_documents_the_format_once_and_refuses_unknown_fields(admin_client_api: APIClient) -> None:
    schema = admin_client_api.get("/api/schema/", {"format": "json"}).json()
    components = schema["components"]["schemas"]
    requests = [name for name in components if name.endswith("Request")]
    assert requests
    assert all(components[name]["additionalProperties"] is False for name in requests)
    create = schema["paths"]["/api/segments/"]["post"]["responses"]
    assert create["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/BadRequestErrorResponse")
    assert create["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    sync = schema["paths"]["/api/segments/{id}/sync/"]["post"]["responses"]["409"]
    assert "brevo_not_configured" in sync["description"]
    conflict_codes = components["ConflictErrorCodeEnum"]["enum"]
    assert {"state_conflict", "sync_in_progress", "brevo_not_configured"} <= set(conflict_codes)
