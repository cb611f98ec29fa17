"""Reading Brevo's answers: the error body, the rate-limit header, and what a refused send means.

Brevo answers errors with `{"code": ..., "message": ...}` and rate limits with a 429 whose
`x-sib-ratelimit-reset` header gives the seconds until the window resets (no `Retry-After`).
The contacts client and the sending path (through Anymail) both read answers here, so a change
in Brevo's wording is fixed once. Reference: https://developers.brevo.com/reference/errors and
https://developers.brevo.com/docs/api-limits.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import requests
from anymail.exceptions import AnymailRequestsAPIError

logger = logging.getLogger(__name__)

# Seconds to wait when a 429 carries no usable reset header.
DEFAULT_RATE_LIMIT_RESET = 1.0
# A 400 on POST /smtp/email names the message version at fault, e.g. "messageVersions[3].to[0]...".
_VERSION_INDEX = re.compile(r"messageVersions\[(\d+)\]")


class BrevoError(Exception):
    """Brevo refused a request or could not be reached.

    `status` is None when no answer came back (connection refused, reset or timed out).
    `code` and `message` are Brevo's own (`{"code": ..., "message": ...}` error body).
    """

    def __init__(self, *, method: str, path: str, status: int | None, code: str, message: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.message = message
        answer = f"{status} {code}" if status is not None else code
        super().__init__(f"Brevo {method} {path}: {answer}: {message}")

    @property
    def unreachable(self) -> bool:
        """Brevo did not (properly) answer: down, overloaded or rate limiting past our budget."""
        return self.status is None or self.status >= 500 or self.status == 429

    @property
    def not_found(self) -> bool:
        return self.status == 404

    def describe(self) -> str:
        """A sentence a person can act on."""
        if self.status == 401:
            return f"Brevo refused the API key ({self.message}). Check BREVO_API_KEY."
        if self.status is None:
            return f"Brevo could not be reached ({self.message}) at {self.method} {self.path}."
        if self.status == 429:
            return f"Brevo kept rate limiting {self.method} {self.path}; try again in a few minutes."
        if self.status >= 500:
            return f"Brevo failed with {self.status} ({self.message}) at {self.method} {self.path}; try again later."
        return f"Brevo refused {self.method} {self.path}: {self.status} {self.code}: {self.message}"


class BrevoNotConfiguredError(BrevoError):
    """No BREVO_API_KEY: the project runs without Brevo (a BrevoError, caught as one)."""

    def __init__(self) -> None:
        super().__init__(method="-", path="-", status=None, code="not_configured", message="BREVO_API_KEY is not set")

    def describe(self) -> str:
        return "Brevo is not configured: set BREVO_API_KEY to sync segments to Brevo lists."


@dataclass(frozen=True)
class Trouble:
    """One request Brevo refused, rate limited or did not answer, as read here."""

    rate_limited: bool
    status: int | None
    where: str
    detail: str


# Who wants to hear of Brevo's trouble: the project records the latest of each kind for its
# dashboard (registered at start-up; this package imports no project app).
_trouble_listeners: list[Callable[[Trouble], None]] = []


def on_trouble(listener: Callable[[Trouble], None]) -> None:
    """Call `listener` with every Trouble read from here on (once, however often registered)."""
    if listener not in _trouble_listeners:
        _trouble_listeners.append(listener)


def report_trouble(trouble: Trouble) -> None:
    """Tell the listeners; a listener that fails is logged, never the caller's problem."""
    for listener in list(_trouble_listeners):
        try:
            listener(trouble)
        except Exception:
            logger.exception("a Brevo trouble listener failed on %s", trouble.where)


def json_object(response: requests.Response) -> dict[str, Any]:
    """The answer's JSON object, or {} when the body is empty, not JSON, or not an object."""
    if not response.content:
        return {}
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def error_fields(response: requests.Response) -> tuple[str, str]:
    """Brevo's `code` and `message` from an error answer ("" for what is missing)."""
    payload = json_object(response)
    return str(payload.get("code") or ""), str(payload.get("message") or "")


def error_from(method: str, path: str, response: requests.Response) -> BrevoError:
    """A BrevoError for an error answer to `method /path` (reported as trouble, except a 404:
    callers ask about lists that may be gone on purpose)."""
    code, message = error_fields(response)
    if response.status_code != 404:
        report_trouble(
            Trouble(
                rate_limited=response.status_code == 429,
                status=response.status_code,
                where=f"{method} /{path}",
                detail=f"{code or response.reason}: {message or response.text[:200]}",
            )
        )
    return BrevoError(
        method=method,
        path=f"/{path}",
        status=response.status_code,
        code=code or response.reason or "error",
        message=message or response.text[:200] or response.reason,
    )


def rate_limit_reset(headers: Mapping[str, str]) -> float:
    """Seconds until Brevo's rate-limit window resets, from `x-sib-ratelimit-reset` (1 s when absent)."""
    try:
        return float(headers.get("x-sib-ratelimit-reset", DEFAULT_RATE_LIMIT_RESET))
    except ValueError:
        return DEFAULT_RATE_LIMIT_RESET


# The one request the sending path makes (through Anymail's backend).
SEND_PATH = "POST /smtp/email"

RefusalKind = Literal["rate_limited", "transient", "duplicate", "recipient", "account", "campaign"]

# The account cannot send now, whatever the message: 402 when its email credits are spent
# (code `not_enough_credits`), 403 when it or the sender is not allowed to (`permission_denied`,
# `account_under_validation`, `reseller_permission_denied`). Codes from Brevo's API reference,
# https://developers.brevo.com/reference/errors (the error code list of its SDKs). Nothing of
# the request was processed; it can go again unchanged once someone fixes the account.
ACCOUNT_REFUSALS = (402, 403)


@dataclass(frozen=True)
class SendRefusal:
    """What a failed POST /smtp/email means for the batch that made it.

    - rate_limited: wait `reset_seconds`, send the same batch again (never a recipient failure);
    - transient: no answer, or a 5xx: Brevo may not have run it, retry with the same key;
    - duplicate: Brevo already ran a request with this idempotency key (an answer was lost);
    - recipient: a 400 naming message version `version_index`; the others were not sent either;
    - account: 402 / 403, the account has no credits or may not send: pause, do not fail;
    - campaign: any other refusal, about the campaign itself (sender, key, content).
    """

    kind: RefusalKind
    detail: str
    reset_seconds: float = DEFAULT_RATE_LIMIT_RESET
    version_index: int | None = None
    # Brevo's HTTP status; None when no answer came back.
    status: int | None = None


def send_refusal(error: AnymailRequestsAPIError) -> SendRefusal:
    """Read a refused send (Anymail's exception carries Brevo's response) as a SendRefusal."""
    response = getattr(error, "response", None)
    status = getattr(error, "status_code", None) if response is not None else None
    if response is None or status is None:
        cause = type(error.__cause__).__name__ if error.__cause__ is not None else "no response"
        detail = f"No answer from Brevo ({cause})."
        report_trouble(Trouble(rate_limited=False, status=None, where=SEND_PATH, detail=detail))
        return SendRefusal("transient", detail)
    code, message = error_fields(response)
    detail = f"Brevo answered {status} {code}: {message}".strip()
    report_trouble(Trouble(rate_limited=status == 429, status=status, where=SEND_PATH, detail=detail))
    if status == 429:
        reset = max(rate_limit_reset(response.headers), 0.1)
        return SendRefusal("rate_limited", detail, reset_seconds=reset, status=status)
    if status >= 500:
        return SendRefusal("transient", detail, status=status)
    if status in ACCOUNT_REFUSALS:
        return SendRefusal("account", detail, status=status)
    if code == "duplicate_parameter" and "idempotency" in message.lower():
        return SendRefusal("duplicate", detail, status=status)
    found = _VERSION_INDEX.search(message)
    if status == 400 and found is not None:
        return SendRefusal("recipient", detail, version_index=int(found.group(1)), status=status)
    return SendRefusal("campaign", detail, status=status)
