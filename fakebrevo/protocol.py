"""What every route shares: Brevo's error answers, the request and response a route handler sees,
and the rules that hold for every call.

Sources: Brevo's API reference, https://developers.brevo.com/reference (each rule names the
operation it comes from), and the project's own notes on the Brevo contract.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JsonObject = dict[str, Any]

# Brevo refuses request bodies over 10 MB (importContacts: "Maximum allowed file body size is
# 10MB"). Real Brevo's gateway answers 413 Payload Too Large; the fake does the same, with a JSON
# body so clients parse every error the same way. 413 also tells a client that retrying the same
# body is pointless, which a generic 400 would not.
MAX_BODY_BYTES = 10 * 1024 * 1024

# Deliberately simple: one "@", no spaces, a dot in the domain. Anything that fails this would
# be refused by Brevo too.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


class BrevoError(Exception):
    """An error answer in Brevo's shape: HTTP status and a JSON `{code, message}` body (the error
    codes of Brevo's API reference, "Errors")."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def missing(name: str) -> BrevoError:
    return BrevoError(400, "missing_parameter", f"{name} is missing")


def invalid(message: str) -> BrevoError:
    return BrevoError(400, "invalid_parameter", message)


def out_of_range(message: str) -> BrevoError:
    return BrevoError(400, "out_of_range", message)


def not_found(message: str) -> BrevoError:
    return BrevoError(404, "document_not_found", message)


@dataclass
class Request:
    """What a route handler sees of one request."""

    request_no: int
    body: JsonObject


@dataclass
class Response:
    status: int
    body: JsonObject | None = None
    headers: dict[str, str] = field(default_factory=dict)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
