"""Reading the API's error bodies in tests: each helper first checks the body has the one format
(`config.api`), then returns the part a test asserts on."""

from __future__ import annotations

from typing import Any


def error_body(response: Any) -> dict[str, Any]:
    body = response.json()
    assert body["type"] in ("validation_error", "client_error", "server_error"), body
    assert body["errors"], body
    assert all(set(error) == {"code", "detail", "attr"} for error in body["errors"]), body
    return dict(body)


def error_fields(response: Any) -> dict[str | None, list[str]]:
    """`{field: [detail, ...]}` for every error entry."""
    fields: dict[str | None, list[str]] = {}
    for error in error_body(response)["errors"]:
        fields.setdefault(error["attr"], []).append(error["detail"])
    return fields


def error_codes(response: Any) -> dict[str | None, list[str]]:
    """`{field: [code, ...]}` for every error entry."""
    codes: dict[str | None, list[str]] = {}
    for error in error_body(response)["errors"]:
        codes.setdefault(error["attr"], []).append(error["code"])
    return codes


def error_code(response: Any) -> str:
    """The first error's code (the only one outside validation errors)."""
    return str(error_body(response)["errors"][0]["code"])


def error_detail(response: Any) -> str:
    """The first error's message."""
    return str(error_body(response)["errors"][0]["detail"])
