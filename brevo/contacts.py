"""The one client for Brevo's contacts API (folders, lists, bulk import, import processes).

Nothing else in the project builds Brevo contacts requests: this module retries what is worth
retrying, and turns every failure into one `BrevoError` (brevo.answers) that says what was asked
and what Brevo answered. Sending mail goes through Anymail, not through here.

Why a thin client on `requests` rather than the official `brevo-python` SDK: the SDK retries 429
and 5xx on its own with a fixed schedule that ignores Brevo's `x-sib-ratelimit-reset` header, so
wrapping it would either double the retries or wait the wrong time; it also raises a different
exception type per status. The five calls we need are smaller than the glue the SDK would need.

Reference: https://developers.brevo.com/reference and /work/shared/BREVO.md.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from brevo.answers import (
    BrevoError,
    BrevoNotConfiguredError,
    Trouble,
    error_from,
    json_object,
    rate_limit_reset,
    report_trouble,
)
from brevo.config import brevo_configured

logger = logging.getLogger(__name__)

# Brevo refuses bodies over 10 MB on /contacts/import and advises staying "around 8 MB" because
# parsing inflates the body; callers chunk imports under this many bytes (envelope included).
MAX_IMPORT_BODY_BYTES = 8_000_000
# contacts/lists/{id}/contacts/add and .../remove take at most 150 addresses per request.
MAX_EMAILS_PER_LIST_CHANGE = 150

# Retry budget for 5xx answers and connection errors: attempts per call, and the base of the
# exponential back-off (full jitter, capped). `brevo_client()` takes them from the settings
# BREVO_RETRY_ATTEMPTS and BREVO_RETRY_BASE_DELAY (same defaults), so tests can shrink them.
DEFAULT_RETRY_ATTEMPTS = 5
DEFAULT_RETRY_BASE_DELAY = 0.5
RETRY_MAX_DELAY = 30.0
# 429s are not failures: Brevo says when the window resets and we wait that long. They get their
# own budget so a long burst cannot eat the 5xx budget, yet a call can never wait forever.
RATE_LIMIT_MAX_WAITS = 20
RATE_LIMIT_MAX_WAIT_SECONDS = 60.0
# Connect fast (a dead host should fail quickly); read slowly (a 8 MB import takes a while).
TIMEOUT = (5.0, 60.0)

# What Brevo accepts in the SMS attribute: international format, country code first.
_SMS_RE = re.compile(r"^\+?[1-9]\d{6,16}$")
_PHONE_PUNCTUATION_RE = re.compile(r"[\s().\-/]")


@dataclass(frozen=True)
class ImportContact:
    """One row of a bulk import: an address and its attributes (names that exist in the account)."""

    email: str
    attributes: Mapping[str, str]

    def encoded(self) -> bytes:
        return encode_json({"email": self.email, "attributes": dict(self.attributes)})


def encode_json(value: Any) -> bytes:
    """Compact JSON, as sent on the wire."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class ImportBatch:
    """The contacts of one /contacts/import call, encoded as they are added.

    So the body's exact size is known before it is sent, and a waiting contact costs its ~100
    bytes of JSON rather than a few Python objects. The import adds or updates the contacts in
    one list and erases attributes sent empty (our users are the source of truth for names).
    """

    def __init__(
        self, *, list_id: int, max_bytes: int = MAX_IMPORT_BODY_BYTES, max_contacts: int | None = None
    ) -> None:
        self.list_id = list_id
        self.max_bytes = min(max_bytes, MAX_IMPORT_BODY_BYTES)
        self.max_contacts = max_contacts
        options = encode_json({"listIds": [list_id], "updateExistingContacts": True, "emptyContactsAttributes": True})
        self._head = options[:-1] + b',"jsonBody":['
        self._tail = b"]}"
        self._items: list[bytes] = []
        self.size = len(self._head) + len(self._tail)

    def add(self, contact: ImportContact) -> bool:
        """Add the contact if it fits; False, and nothing added, when the batch is full."""
        item = contact.encoded()
        size = self.size + len(item) + (1 if self._items else 0)
        if self._items and (size > self.max_bytes or len(self._items) == self.max_contacts):
            return False
        if size > self.max_bytes:
            raise ValueError(f"one contact is over the {self.max_bytes}-byte import limit: {contact.email}")
        self._items.append(item)
        self.size = size
        return True

    def __len__(self) -> int:
        return len(self._items)

    def body(self) -> bytes:
        return self._head + b",".join(self._items) + self._tail


def brevo_sms(phone: str) -> str | None:
    """A phone number as Brevo's SMS attribute accepts it, or None when it cannot be one.

    Brevo skips the whole contact in an import when SMS is malformed, so a bad phone must not
    cost the user their place in the list: it is left out instead.
    """
    compact = _PHONE_PUNCTUATION_RE.sub("", phone)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    return compact if _SMS_RE.match(compact) else None


class BrevoClient:
    """Brevo's contacts endpoints over one HTTP session.

    `sleep` and `jitter` are injectable so tests can observe the back-off without waiting.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
        retry_base_delay: float = DEFAULT_RETRY_BASE_DELAY,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/") + "/"
        self.retry_attempts = max(1, retry_attempts)
        self.retry_base_delay = retry_base_delay
        self._sleep = sleep
        self._jitter = jitter
        self._session = requests.Session()

    # -- folders and lists -----------------------------------------------------------------

    def folder_create(self, *, name: str) -> int:
        # Not idempotent: a lost answer must not be retried into a second folder.
        return int(self._request("POST", "contacts/folders", body={"name": name}, idempotent=False)["id"])

    def list_create(self, *, name: str, folder_id: int) -> int:
        body = {"name": name, "folderId": folder_id}
        return int(self._request("POST", "contacts/lists", body=body, idempotent=False)["id"])

    def list_get(self, *, list_id: int) -> dict[str, Any]:
        return self._request("GET", f"contacts/lists/{list_id}")

    def list_rename(self, *, list_id: int, name: str) -> None:
        self._request("PUT", f"contacts/lists/{list_id}", body={"name": name})

    def list_delete(self, *, list_id: int) -> None:
        self._request("DELETE", f"contacts/lists/{list_id}")

    def list_remove(self, *, list_id: int, emails: Sequence[str]) -> int:
        """Take addresses out of a list (the contacts stay in the account); returns how many left.

        Brevo answers 400 when none of the addresses is in the list, which is also what a retry
        of a removal that already happened gets: both mean "done", so both return 0.
        """
        if not 0 < len(emails) <= MAX_EMAILS_PER_LIST_CHANGE:
            raise ValueError(f"list_remove takes 1 to {MAX_EMAILS_PER_LIST_CHANGE} addresses, got {len(emails)}")
        try:
            answer = self._request("POST", f"contacts/lists/{list_id}/contacts/remove", body={"emails": list(emails)})
        except BrevoError as error:
            if error.status == 400 and error.code == "invalid_parameter":
                return 0
            raise
        return len(answer.get("contacts", {}).get("success", []))

    # -- bulk import -----------------------------------------------------------------------

    def contacts_import(self, *, batch: ImportBatch) -> int:
        """Start an asynchronous import of the batch into its list; returns Brevo's process id.
        Importing the same rows twice is harmless, so it is retried like a read."""
        if not batch:
            raise ValueError("an import needs at least one contact")
        return int(self._request("POST", "contacts/import", raw_body=batch.body())["processId"])

    def process_get(self, *, process_id: int) -> dict[str, Any]:
        """An import's state: `status` is queued, in_process, completed or failed."""
        return self._request("GET", f"processes/{process_id}")

    # -- transport -------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw_body: bytes | None = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        data = raw_body if raw_body is not None else (encode_json(body) if body is not None else None)
        headers = {"api-key": self.api_key, "accept": "application/json"}
        if data is not None:
            headers["content-type"] = "application/json"
        url = self.base_url + path
        failures = 0
        rate_limited = 0
        while True:
            started = time.monotonic()
            try:
                response = self._session.request(method, url, data=data, headers=headers, timeout=TIMEOUT)
            except requests.RequestException as exc:
                elapsed_ms = (time.monotonic() - started) * 1000
                failures += 1
                # A POST that may have reached Brevo is only retried when repeating it is harmless.
                retry = failures < self.retry_attempts and (idempotent or _never_sent(exc))
                logger.warning(
                    "brevo %s /%s -> no answer (%s) in %.0f ms, attempt %d%s",
                    method,
                    path,
                    type(exc).__name__,
                    elapsed_ms,
                    failures,
                    ", retrying" if retry else "",
                )
                if not retry:
                    report_trouble(
                        Trouble(rate_limited=False, status=None, where=f"{method} /{path}", detail=f"no answer: {exc}")
                    )
                    raise BrevoError(
                        method=method, path=f"/{path}", status=None, code="connection_error", message=str(exc)
                    ) from exc
                self._sleep(self._retry_delay(failures))
                continue

            elapsed_ms = (time.monotonic() - started) * 1000
            status = response.status_code
            logger.info("brevo %s /%s -> %d in %.0f ms", method, path, status, elapsed_ms)
            if status < 400:
                return json_object(response)
            if status == 429 and rate_limited < RATE_LIMIT_MAX_WAITS:
                rate_limited += 1
                wait = self._rate_limit_wait(response)
                report_trouble(
                    Trouble(rate_limited=True, status=429, where=f"{method} /{path}", detail=f"waiting {wait:.1f} s")
                )
                logger.warning("brevo rate limit on %s /%s: waiting %.1f s", method, path, wait)
                self._sleep(wait)
                continue
            # Brevo's 5xx answers mean the request was not carried out, so even a create is
            # retried; a lost answer (above) gives no such assurance.
            if status >= 500:
                failures += 1
                if failures < self.retry_attempts:
                    self._sleep(self._retry_delay(failures))
                    continue
            raise error_from(method, path, response)

    def _retry_delay(self, failures: int) -> float:
        # Full jitter: workers that failed together do not come back together.
        ceiling = min(RETRY_MAX_DELAY, self.retry_base_delay * 2 ** (failures - 1))
        return self._jitter(0.0, ceiling)

    def _rate_limit_wait(self, response: requests.Response) -> float:
        # Brevo sends no Retry-After; x-sib-ratelimit-reset is the seconds until the window
        # resets. A little jitter on top spreads the workers that were refused together.
        reset = min(max(rate_limit_reset(response.headers), 0.0), RATE_LIMIT_MAX_WAIT_SECONDS)
        return reset + self._jitter(0.0, self.retry_base_delay)


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request certainly did not reach Brevo (so even a create can be retried)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    # requests wraps urllib3's MaxRetryError; its reason says whether a connection was made.
    # NewConnectionError (refused, DNS failure) subclasses ConnectTimeoutError.
    wrapped = exc.args[0] if exc.args else None
    return isinstance(wrapped, MaxRetryError) and isinstance(wrapped.reason, ConnectTimeoutError)


def brevo_client() -> BrevoClient:
    """The client configured from settings; raises BrevoNotConfiguredError without an API key."""
    if not brevo_configured():
        raise BrevoNotConfiguredError()
    return BrevoClient(
        api_key=settings.BREVO_API_KEY,
        base_url=settings.BREVO_API_URL,
        retry_attempts=settings.BREVO_RETRY_ATTEMPTS,
        retry_base_delay=settings.BREVO_RETRY_BASE_DELAY,
    )
