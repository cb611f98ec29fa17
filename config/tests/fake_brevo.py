"""A local fake of Brevo's API v3, so tests run the real client code against real HTTP.

Brevo is never reachable from tests. This server answers the calls the project makes (lists,
folders, bulk import, import processes, transactional email, the transactional blocklist) and,
above all, refuses what Brevo refuses: a client that passes against it has respected Brevo's
documented limits. Where Brevo's behaviour is undocumented, the fake takes the stricter reading,
because a client that copes with the strict reading also copes with the lenient one.

Faults (429 with Brevo's rate-limit headers, 5xx, slow answers, dropped connections, and a
request that is processed but never answered) can be injected to test retries and idempotency.

Run by hand: ``python -m config.tests.fake_brevo --port 8025 [--api-key KEY]``.

Reference: https://developers.brevo.com/reference (sendTransacEmail, importContacts,
addContactToList, getTransacBlockedContacts) and the batch-email idempotency guide.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import itertools
import json
import random
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

JsonObject = dict[str, Any]

# Brevo refuses request bodies over 10 MB (import endpoint doc: "Maximum allowed file body size
# is 10MB"). Real Brevo's gateway answers 413 Payload Too Large; the fake does the same, with a
# JSON body so clients parse every error the same way. 413 also tells a client that retrying
# the same body is pointless, which a generic 400 would not.
MAX_BODY_BYTES = 10 * 1024 * 1024

# /smtp/email limits (sendTransacEmail reference and the batch-sending guide).
MAX_MESSAGE_VERSIONS = 1000
MAX_RECIPIENTS_PER_VERSION = 99
# "params of each version <= 100 KB, all params <= 1000 KB": Brevo does not say whether a KB is
# 1000 or 1024 bytes, so the fake takes the smaller.
MAX_VERSION_PARAMS_BYTES = 100 * 1000
MAX_TOTAL_PARAMS_BYTES = 1000 * 1000
# Idempotency keys are remembered for 30 minutes (batch email idempotency guide).
IDEMPOTENCY_WINDOW_SECONDS = 30 * 60

# /contacts limits (addContactToList, removeContactFromList, getContactsFromList, getLists).
MAX_EMAILS_PER_LIST_CHANGE = 150
MAX_LIST_CONTACTS_PAGE = 500
MAX_LISTS_PAGE = 50
MAX_BLOCKED_CONTACTS_PAGE = 100
DEFAULT_PAGE = 50

# Attributes that exist in the account. Brevo refuses attributes it does not know; the fake
# refuses them synchronously (400 at POST /contacts/import) rather than failing the process
# later, so the mistake surfaces in the test that made it.
KNOWN_ATTRIBUTES = frozenset({"FIRSTNAME", "LASTNAME", "SMS"})

# Brevo's `reason.code` values for the transactional blocklist (getTransacBlockedContacts).
BLOCK_REASONS = frozenset(
    {
        "unsubscribedViaMA",
        "unsubscribedViaEmail",
        "adminBlocked",
        "unsubscribedViaApi",
        "hardBounce",
        "contactFlaggedAsSpam",
    }
)

# Deliberately simple: one "@", no spaces, a dot in the domain. Anything that fails this would
# be refused by Brevo too.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
# SMS must be in international format (country code, digits only, optional "+").
SMS_RE = re.compile(r"^\+?[1-9]\d{6,16}$")
MESSAGE_ID_DOMAIN = "smtp-relay.mailin.fr"


class BrevoError(Exception):
    """An error answer in Brevo's shape: HTTP status and a JSON `{code, message}` body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def _missing(name: str) -> BrevoError:
    return BrevoError(400, "missing_parameter", f"{name} is missing")


def _invalid(message: str) -> BrevoError:
    return BrevoError(400, "invalid_parameter", message)


def _out_of_range(message: str) -> BrevoError:
    return BrevoError(400, "out_of_range", message)


def _not_found(message: str) -> BrevoError:
    return BrevoError(404, "document_not_found", message)


@dataclass
class Request:
    """What a route handler sees of one request."""

    request_no: int
    query: dict[str, list[str]]
    body: JsonObject


@dataclass
class Response:
    status: int
    body: JsonObject | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """What goes wrong with one request. `status` None means "answer normally"."""

    status: int | None = None
    delay: float = 0.0
    drop: bool = False
    drop_after_processing: bool = False
    reset_seconds: int = 1
    rate_limit: int = 10

    @property
    def label(self) -> str:
        if self.drop_after_processing:
            return "drop_after_processing"
        if self.drop:
            return "drop"
        if self.status is not None:
            return f"status_{self.status}"
        return "delay"


@dataclass
class _CountedFault:
    remaining: int
    path_prefix: str | None
    fault: Fault


@dataclass
class _RandomFaults:
    rate: float
    statuses: tuple[int, ...]
    path_prefix: str | None
    rng: random.Random
    drop_rate: float
    delay_rate: float
    delay: float


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _normalise_prefix(path_prefix: str | None) -> str | None:
    """Accept "/v3/smtp/email", "smtp/email" or "/smtp/email" alike."""
    if path_prefix is None:
        return None
    stripped = path_prefix.lstrip("/")
    if stripped.startswith("v3/") or stripped == "v3":
        return "/" + stripped
    return "/v3/" + stripped


def _matches(path: str, prefix: str | None) -> bool:
    return prefix is None or path.startswith(prefix)


def _int_query(query: dict[str, list[str]], name: str, default: int, maximum: int) -> int:
    raw = query.get(name, [str(default)])[0]
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(f"{name} must be an integer") from None
    if value < 0:
        raise _invalid(f"{name} must be positive")
    if value > maximum:
        raise _out_of_range(f"{name} must be less than or equal to {maximum}")
    return value


def _require_email(value: Any, where: str) -> str:
    if not isinstance(value, str) or not EMAIL_RE.match(value):
        raise _invalid(f"email is not valid in {where}: {value!r}")
    return value


class FakeBrevo:
    """An in-process Brevo API v3 server with inspectable state and fault injection.

    Every read and write of the state below happens under `lock`; tests may take it too.
    """

    def __init__(
        self, api_key: str = "test-key", host: str = "127.0.0.1", port: int = 0, *, counts_only: bool = False
    ) -> None:
        self.api_key = api_key
        # For million-recipient benchmarks: keep how many times each address was accepted, not
        # every message and request body (gigabytes at that scale); `messages` stays empty.
        self.counts_only = counts_only
        self.host = host
        self.port = port
        self.idempotency_window_seconds: float = IDEMPOTENCY_WINDOW_SECONDS
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        # Message ids stay unique for the life of the object, across reset(), so ids stored by
        # one test can never collide with the next test's.
        self._message_counter = itertools.count(10_000_000_001)
        self._route_table = self._routes()
        self.reset()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeBrevo:
        """Serve in a daemon thread; with port 0 the OS picks a free port."""
        server = ThreadingHTTPServer((self.host, self.port), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self.port = server.server_address[1]
        self._server = server
        self._stopping.clear()
        # A short poll interval makes stop() return at once instead of after up to 0.5 s.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-brevo", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        # Wakes handlers sleeping on an injected delay so shutdown is immediate.
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeBrevo:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v3/"

    def reset(self) -> None:
        """Forget all state and faults (message ids keep counting, see __init__)."""
        with self.lock:
            # Requests still sleeping on an injected delay belong to the previous test: they
            # must not land in the fresh state (see _serve).
            self.generation = getattr(self, "generation", 0) + 1
            self.folders: dict[int, JsonObject] = {}
            self.lists: dict[int, JsonObject] = {}
            self.contacts: dict[str, JsonObject] = {}
            self.processes: dict[int, JsonObject] = {}
            self.messages: list[JsonObject] = []
            self.accepted_counts: Counter[str] = Counter()
            self.requests_log: list[JsonObject] = []
            self.blocked: dict[str, JsonObject] = {}
            self._idempotency: dict[str, float] = {}
            self._ids = itertools.count(1)
            self._counted_faults: list[_CountedFault] = []
            self._random_faults: _RandomFaults | None = None
            self._rate_limits: list[tuple[str | None, int, list[float]]] = []
            self._process_delay_polls = 0
            self._failing_imports = 0

    # -- inspection --------------------------------------------------------------------------

    def calls(self, method: str | None = None, path_prefix: str | None = None) -> list[JsonObject]:
        """Logged requests, optionally filtered; `path_prefix` may omit the "/v3/"."""
        prefix = _normalise_prefix(path_prefix)
        with self.lock:
            return [
                entry
                for entry in self.requests_log
                if (method is None or entry["method"] == method.upper()) and _matches(entry["path"], prefix)
            ]

    def accepted_emails(self) -> list[str]:
        """Recipients of accepted messages in acceptance order; duplicates stay visible."""
        with self.lock:
            if self.counts_only:
                return list(self.accepted_counts.elements())
            return [message["to"] for message in self.messages]

    # -- seeding -----------------------------------------------------------------------------

    def block(self, email: str, reason: str = "unsubscribedViaEmail") -> None:
        """Put an address on the transactional blocklist, as Brevo's own unsubscribe does."""
        if reason not in BLOCK_REASONS:
            raise ValueError(f"unknown Brevo block reason {reason!r}")
        with self.lock:
            self.blocked[email.lower()] = {
                "email": email.lower(),
                "senderEmail": None,
                "reason": {"code": reason, "message": reason},
                "blockedAt": _now_iso(),
            }

    def add_contact(self, email: str, attributes: JsonObject | None = None) -> JsonObject:
        """Create a contact directly, as if imported earlier."""
        with self.lock:
            return self._upsert_contact(email, attributes or {}, update=True, erase_empty=False)

    # -- fault injection ---------------------------------------------------------------------

    def fail_next(
        self,
        n: int,
        status: int | None = 500,
        *,
        path_prefix: str | None = None,
        reset_seconds: int = 1,
        delay: float = 0.0,
        drop: bool = False,
    ) -> None:
        """Make the next `n` matching requests fail without being processed.

        They wait `delay` seconds, then close the connection unanswered (`drop=True`) or answer
        `status`. A 429 carries Brevo's x-sib-ratelimit-* headers with reset = `reset_seconds`.
        `status=None` with a delay gives slow answers that are otherwise processed normally.
        """
        fault = Fault(status=status, delay=delay, drop=drop, reset_seconds=reset_seconds)
        with self.lock:
            self._counted_faults.append(_CountedFault(n, _normalise_prefix(path_prefix), fault))

    def drop_after_accept_next(self, n: int, *, path_prefix: str | None = "smtp/email") -> None:
        """Process the next `n` matching requests, then close the connection unanswered.

        The client cannot tell whether Brevo accepted the request: the case idempotency keys
        exist for. Messages are stored and their idempotency key is remembered.
        """
        fault = Fault(drop_after_processing=True)
        with self.lock:
            self._counted_faults.append(_CountedFault(n, _normalise_prefix(path_prefix), fault))

    def fail_randomly(
        self,
        rate: float,
        statuses: Iterable[int] = (429, 500),
        *,
        path_prefix: str | None = None,
        seed: int = 0,
        drop_rate: float = 0.0,
        delay_rate: float = 0.0,
        delay: float = 0.0,
    ) -> None:
        """Fail a random share of matching requests (all rates 0 turns this off).

        Each request is dropped with probability `drop_rate`, else answers one of `statuses`
        with probability `rate`; independently, `delay_rate` of them wait `delay` seconds first.
        Seeded, so a failing reliability test replays the same sequence.
        """
        with self.lock:
            if rate <= 0 and drop_rate <= 0 and delay_rate <= 0:
                self._random_faults = None
                return
            self._random_faults = _RandomFaults(
                rate=rate,
                statuses=tuple(statuses),
                path_prefix=_normalise_prefix(path_prefix),
                rng=random.Random(seed),
                drop_rate=drop_rate,
                delay_rate=delay_rate,
                delay=delay,
            )

    def limit_rate(self, per_second: int, *, path_prefix: str | None = None) -> None:
        """Enforce a Brevo rate limit: over `per_second` matching requests in a sliding second
        answer 429 (e.g. 10/s on "contacts" for the base plan)."""
        with self.lock:
            self._rate_limits.append((_normalise_prefix(path_prefix), per_second, []))

    def set_process_delay(self, polls: int) -> None:
        """Imports report queued, then in_process, for `polls` GETs before they complete."""
        with self.lock:
            self._process_delay_polls = polls

    def fail_next_imports(self, n: int) -> None:
        """The next `n` imports are accepted (202) but their process ends `failed`, unapplied."""
        with self.lock:
            self._failing_imports += n

    # -- request pipeline (called by the handler) --------------------------------------------

    def _begin(self, method: str, path: str) -> tuple[JsonObject, Fault | None]:
        with self.lock:
            entry: JsonObject = {
                "request_no": len(self.requests_log) + 1,
                "method": method,
                "path": path,
                "status": None,
                "fault": None,
                "body": None,
            }
            self.requests_log.append(entry)
            return entry, self._take_fault(path)

    def _take_fault(self, path: str) -> Fault | None:
        for counted in self._counted_faults:
            if counted.remaining > 0 and _matches(path, counted.path_prefix):
                counted.remaining -= 1
                return counted.fault
        for prefix, per_second, stamps in self._rate_limits:
            if _matches(path, prefix):
                now = time.monotonic()
                stamps[:] = [stamp for stamp in stamps if now - stamp < 1.0]
                if len(stamps) >= per_second:
                    return Fault(status=429, reset_seconds=1, rate_limit=per_second)
                stamps.append(now)
        randomly = self._random_faults
        if randomly is None or not _matches(path, randomly.path_prefix):
            return None
        delay = randomly.delay if randomly.rng.random() < randomly.delay_rate else 0.0
        roll = randomly.rng.random()
        if roll < randomly.drop_rate:
            return Fault(drop=True, delay=delay)
        if roll < randomly.drop_rate + randomly.rate:
            return Fault(status=randomly.rng.choice(randomly.statuses), delay=delay)
        return Fault(delay=delay) if delay else None

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _handle(self, method: str, path: str, api_key: str | None, request: Request) -> Response:
        """Authenticate, route and run one request; errors become Brevo-shaped answers."""
        try:
            if api_key != self.api_key:
                raise BrevoError(401, "unauthorized", "Key not found")
            handler, path_arguments = self._route(method, path)
            with self.lock:
                return handler(**path_arguments, request=request)
        except BrevoError as error:
            return Response(error.status, {"code": error.code, "message": error.message})

    def _route(self, method: str, path: str) -> tuple[Callable[..., Response], dict[str, Any]]:
        path_known = False
        for route_method, pattern, handler in self._route_table:
            found = pattern.fullmatch(path)
            if found is None:
                continue
            path_known = True
            if route_method == method:
                arguments: dict[str, Any] = {
                    name: int(value) if name.endswith("_id") else unquote(value)
                    for name, value in found.groupdict().items()
                }
                return handler, arguments
        if path_known:
            raise BrevoError(405, "method_not_allowed", f"{method} is not allowed on {path}")
        raise BrevoError(404, "not_found", f"Invalid route {path}")

    def _routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Response]]]:
        lists = r"/v3/contacts/lists"
        one_list = rf"{lists}/(?P<list_id>\d+)"
        table: list[tuple[str, str, Callable[..., Response]]] = [
            ("POST", r"/v3/contacts/folders", self._create_folder),
            ("GET", r"/v3/contacts/folders/(?P<folder_id>\d+)", self._get_folder),
            ("GET", lists, self._get_lists),
            ("POST", lists, self._create_list),
            ("GET", one_list, self._get_list),
            ("PUT", one_list, self._update_list),
            ("DELETE", one_list, self._delete_list),
            ("GET", rf"{one_list}/contacts", self._list_contacts),
            ("POST", rf"{one_list}/contacts/add", self._add_to_list),
            ("POST", rf"{one_list}/contacts/remove", self._remove_from_list),
            ("POST", r"/v3/contacts/import", self._import_contacts),
            ("GET", r"/v3/processes/(?P<process_id>\d+)", self._get_process),
            ("POST", r"/v3/smtp/email", self._send_email),
            ("GET", r"/v3/smtp/blockedContacts", self._get_blocked),
            ("DELETE", r"/v3/smtp/blockedContacts/(?P<email>[^/]+)", self._unblock),
        ]
        return [(method, re.compile(pattern), handler) for method, pattern, handler in table]

    # -- folders and lists -------------------------------------------------------------------

    def _create_folder(self, *, request: Request) -> Response:
        body = request.body
        name = body.get("name")
        if not name:
            raise _missing("name")
        if not isinstance(name, str):
            raise _invalid("name must be a string")
        folder_id = next(self._ids)
        self.folders[folder_id] = {"id": folder_id, "name": name}
        return Response(201, {"id": folder_id})

    def _get_folder(self, folder_id: int, *, request: Request) -> Response:
        folder = self._folder(folder_id)
        members = {
            email
            for brevo_list in self.lists.values()
            if brevo_list["folderId"] == folder_id
            for email in brevo_list["members"]
        }
        return Response(
            200,
            {
                "id": folder_id,
                "name": folder["name"],
                "totalBlacklisted": 0,
                "totalSubscribers": len(members),
                "uniqueSubscribers": len(members),
            },
        )

    def _folder(self, folder_id: Any) -> JsonObject:
        if not isinstance(folder_id, int) or folder_id not in self.folders:
            raise _not_found("Folder ID does not exist")
        return self.folders[folder_id]

    def _list(self, list_id: int) -> JsonObject:
        if list_id not in self.lists:
            raise _not_found("List ID does not exist")
        return self.lists[list_id]

    def _list_json(self, brevo_list: JsonObject) -> JsonObject:
        return {
            "id": brevo_list["id"],
            "name": brevo_list["name"],
            "folderId": brevo_list["folderId"],
            "uniqueSubscribers": len(brevo_list["members"]),
            "totalSubscribers": len(brevo_list["members"]),
            "totalBlacklisted": 0,
            "createdAt": brevo_list["createdAt"],
        }

    def _create_list(self, *, request: Request) -> Response:
        body = request.body
        name, folder_id = body.get("name"), body.get("folderId")
        if not name:
            raise _missing("name")
        if folder_id is None:
            raise _missing("folderId")
        if not isinstance(name, str):
            raise _invalid("name must be a string")
        self._folder(folder_id)
        return Response(201, {"id": self._new_list(name, folder_id)})

    def _new_list(self, name: str, folder_id: int) -> int:
        list_id = next(self._ids)
        self.lists[list_id] = {
            "id": list_id,
            "name": name,
            "folderId": folder_id,
            "createdAt": _now_iso(),
            "members": set(),
        }
        return list_id

    def _get_lists(self, *, request: Request) -> Response:
        query = request.query
        limit = _int_query(query, "limit", 10, MAX_LISTS_PAGE)
        offset = _int_query(query, "offset", 0, 2**31)
        ordered = sorted(self.lists.values(), key=lambda item: item["id"])
        if query.get("sort", ["desc"])[0] == "desc":
            ordered.reverse()
        page = ordered[offset : offset + limit]
        return Response(200, {"lists": [self._list_json(item) for item in page], "count": len(ordered)})

    def _get_list(self, list_id: int, *, request: Request) -> Response:
        return Response(200, self._list_json(self._list(list_id)))

    def _update_list(self, list_id: int, *, request: Request) -> Response:
        body = request.body
        brevo_list = self._list(list_id)
        name, folder_id = body.get("name"), body.get("folderId")
        if name is None and folder_id is None:
            raise _missing("name or folderId")
        # updateList: "Either of the two parameters (name, folderId) can be updated at a time."
        if name is not None and folder_id is not None:
            raise _invalid("Either name or folderId can be updated at a time, not both")
        if name is not None:
            if not isinstance(name, str) or not name:
                raise _invalid("name must be a non-empty string")
            brevo_list["name"] = name
        else:
            self._folder(folder_id)
            brevo_list["folderId"] = folder_id
        return Response(204)

    def _delete_list(self, list_id: int, *, request: Request) -> Response:
        brevo_list = self._list(list_id)
        # The list goes; its contacts stay in the account.
        for email in brevo_list["members"]:
            self.contacts[email]["listIds"].discard(list_id)
        del self.lists[list_id]
        return Response(204)

    # -- list membership ---------------------------------------------------------------------

    def _contact_json(self, contact: JsonObject) -> JsonObject:
        return {
            "id": contact["id"],
            "email": contact["email"],
            "emailBlacklisted": contact["email"] in self.blocked,
            "smsBlacklisted": False,
            "createdAt": contact["createdAt"],
            "modifiedAt": contact["modifiedAt"],
            "listIds": sorted(contact["listIds"]),
            "attributes": dict(contact["attributes"]),
        }

    def _list_contacts(self, list_id: int, *, request: Request) -> Response:
        query = request.query
        members = self._list(list_id)["members"]
        limit = _int_query(query, "limit", DEFAULT_PAGE, MAX_LIST_CONTACTS_PAGE)
        offset = _int_query(query, "offset", 0, 2**31)
        ordered = sorted((self.contacts[email] for email in members), key=lambda c: c["id"])
        # Brevo sorts by creation date, newest first unless sort=asc.
        if query.get("sort", ["desc"])[0] == "desc":
            ordered.reverse()
        page = ordered[offset : offset + limit]
        return Response(200, {"contacts": [self._contact_json(c) for c in page], "count": len(ordered)})

    def _emails_argument(self, body: JsonObject) -> list[str]:
        emails = body.get("emails")
        if not emails:
            raise _missing("emails")
        if not isinstance(emails, list) or not all(isinstance(item, str) for item in emails):
            raise _invalid("emails must be a list of email addresses")
        if len(emails) > MAX_EMAILS_PER_LIST_CHANGE:
            raise _out_of_range(f"emails: at most {MAX_EMAILS_PER_LIST_CHANGE} per request")
        return emails

    def _add_to_list(self, list_id: int, *, request: Request) -> Response:
        body = request.body
        brevo_list = self._list(list_id)
        success, failure = [], []
        for email in self._emails_argument(body):
            key = email.lower()
            # Only contacts that exist in the account can be added (addContactToList).
            if key in self.contacts and key not in brevo_list["members"]:
                brevo_list["members"].add(key)
                self.contacts[key]["listIds"].add(list_id)
                success.append(email)
            else:
                failure.append(email)
        if not success:
            # What Brevo answers when nothing could be added, retries of a done call included.
            raise _invalid("Contact already in list and/or does not exist")
        return Response(201, {"contacts": {"success": success, "failure": failure}})

    def _remove_from_list(self, list_id: int, *, request: Request) -> Response:
        body = request.body
        brevo_list = self._list(list_id)
        if body.get("all") is True:
            if "emails" in body:
                raise _invalid("Use either emails or all, not both")
            removed = sorted(brevo_list["members"])
            for email in removed:
                self.contacts[email]["listIds"].discard(list_id)
            brevo_list["members"].clear()
            return Response(201, {"contacts": {"success": removed, "failure": [], "total": len(removed)}})
        success, failure = [], []
        for email in self._emails_argument(body):
            key = email.lower()
            if key in brevo_list["members"]:
                brevo_list["members"].discard(key)
                self.contacts[key]["listIds"].discard(list_id)
                success.append(email)
            else:
                failure.append(email)
        if not success:
            raise _invalid("Contact already removed from list and/or does not exist")
        return Response(201, {"contacts": {"success": success, "failure": failure}})

    # -- import ------------------------------------------------------------------------------

    def _import_contacts(self, *, request: Request) -> Response:
        body = request.body
        sources = [name for name in ("jsonBody", "fileBody", "fileUrl") if body.get(name) is not None]
        if not sources:
            raise _missing("jsonBody, fileBody or fileUrl")
        if len(sources) > 1:
            raise _invalid("Only one of jsonBody, fileBody or fileUrl can be passed")
        list_ids = body.get("listIds")
        new_list = body.get("newList")
        if list_ids is None and new_list is None:
            raise _missing("listIds")
        if list_ids is not None:
            if not isinstance(list_ids, list) or not all(isinstance(i, int) for i in list_ids):
                raise _invalid("listIds must be a list of integers")
            for list_id in list_ids:
                self._list(list_id)
        if new_list is not None:
            if not isinstance(new_list, dict) or not new_list.get("listName"):
                raise _missing("newList.listName")
            self._folder(new_list.get("folderId"))
        for flag in ("updateExistingContacts", "emptyContactsAttributes"):
            if flag in body and not isinstance(body[flag], bool):
                raise _invalid(f"{flag} must be a boolean")

        if "jsonBody" in sources:
            rows = self._json_rows(body["jsonBody"])
        elif "fileBody" in sources:
            rows = self._csv_rows(body["fileBody"])
        else:
            # The fake never fetches URLs: a fileUrl import completes with nothing imported.
            if not isinstance(body["fileUrl"], str):
                raise _invalid("fileUrl must be a string")
            rows = []

        process_id = next(self._ids)
        failing = self._failing_imports > 0
        if failing:
            self._failing_imports -= 1
        self.processes[process_id] = {
            "id": process_id,
            "status": "queued",
            "name": "Import contacts",
            "polls_left": self._process_delay_polls,
            "polled": False,
            "will_fail": failing,
            "rows": rows,
            "listIds": list(list_ids or []),
            "newList": new_list,
            "updateExistingContacts": body.get("updateExistingContacts", True),
            "emptyContactsAttributes": body.get("emptyContactsAttributes", False),
            "skipped": [],
        }
        if self._process_delay_polls == 0:
            self._finish_process(self.processes[process_id])
        return Response(202, {"processId": process_id})

    def _json_rows(self, json_body: Any) -> list[JsonObject]:
        if not isinstance(json_body, list):
            raise _invalid("jsonBody must be a list of contacts")
        rows = []
        for index, item in enumerate(json_body):
            if not isinstance(item, dict) or "email" not in item:
                raise _missing(f"jsonBody[{index}].email")
            attributes = item.get("attributes") or {}
            if not isinstance(attributes, dict):
                raise _invalid(f"jsonBody[{index}].attributes must be an object")
            self._check_attribute_names(attributes)
            rows.append({"email": item["email"], "attributes": attributes})
        return rows

    def _csv_rows(self, file_body: Any) -> list[JsonObject]:
        if not isinstance(file_body, str) or not file_body.strip():
            raise _invalid("fileBody must be CSV text")
        reader = csv.reader(io.StringIO(file_body), delimiter=";")
        header = next(reader)
        if "EMAIL" not in header:
            raise _missing("EMAIL column in fileBody")
        self._check_attribute_names([column for column in header if column != "EMAIL"])
        rows = []
        for values in reader:
            if not any(values):
                continue
            record = dict(zip(header, values, strict=False))
            email = record.pop("EMAIL", "")
            rows.append({"email": email, "attributes": record})
        return rows

    def _check_attribute_names(self, names: Iterable[str]) -> None:
        unknown = sorted(set(names) - KNOWN_ATTRIBUTES)
        if unknown:
            raise _invalid(f"Attribute(s) not found in the account: {', '.join(unknown)}")

    def _get_process(self, process_id: int, *, request: Request) -> Response:
        process = self.processes.get(process_id)
        if process is None:
            raise _not_found("Process does not exist")
        if process["status"] in ("queued", "in_process"):
            if process["polls_left"] > 0:
                process["polls_left"] -= 1
                process["status"] = "in_process" if process["polled"] else "queued"
                process["polled"] = True
            else:
                self._finish_process(process)
        return Response(200, {"id": process["id"], "status": process["status"], "name": process["name"]})

    def _finish_process(self, process: JsonObject) -> None:
        """Apply an import, as Brevo does asynchronously: add or update, never remove."""
        if process["will_fail"]:
            process["status"] = "failed"
            return
        list_ids = list(process["listIds"])
        if process["newList"] is not None:
            list_ids.append(self._new_list(process["newList"]["listName"], process["newList"]["folderId"]))
        for row in process["rows"]:
            email, attributes = row["email"], row["attributes"]
            if not isinstance(email, str) or not EMAIL_RE.match(email):
                process["skipped"].append({"email": email, "reason": "invalid email"})
                continue
            sms = attributes.get("SMS")
            if sms:
                if not SMS_RE.match(str(sms)):
                    process["skipped"].append({"email": email, "reason": "invalid SMS"})
                    continue
                # Brevo refuses an SMS number already held by another contact.
                owner = self._sms_owner(str(sms))
                if owner is not None and owner != email.lower():
                    process["skipped"].append({"email": email, "reason": "SMS already in use"})
                    continue
            contact = self._upsert_contact(
                email,
                attributes,
                update=process["updateExistingContacts"],
                erase_empty=process["emptyContactsAttributes"],
            )
            for list_id in list_ids:
                if list_id in self.lists:
                    self.lists[list_id]["members"].add(contact["email"])
                    contact["listIds"].add(list_id)
        process["status"] = "completed"
        # Keep no copy of the rows once applied: large imports would otherwise pile up.
        process["rows"] = []

    def _sms_owner(self, sms: str) -> str | None:
        for email, contact in self.contacts.items():
            if contact["attributes"].get("SMS") == sms:
                return email
        return None

    def _upsert_contact(self, email: str, attributes: JsonObject, *, update: bool, erase_empty: bool) -> JsonObject:
        key = email.lower()
        now = _now_iso()
        contact = self.contacts.get(key)
        if contact is None:
            contact = {
                "id": next(self._ids),
                "email": key,
                "attributes": {},
                "listIds": set(),
                "createdAt": now,
                "modifiedAt": now,
            }
            self.contacts[key] = contact
        elif not update:
            return contact
        for name, value in attributes.items():
            if value in ("", None):
                # Empty values erase only when emptyContactsAttributes is true.
                if erase_empty:
                    contact["attributes"].pop(name, None)
            else:
                contact["attributes"][name] = value
        contact["modifiedAt"] = now
        return contact

    # -- transactional email -----------------------------------------------------------------

    def _send_email(self, *, request: Request) -> Response:
        body = request.body
        uses_template = body.get("templateId") is not None
        if uses_template and not isinstance(body["templateId"], int):
            raise _invalid("templateId must be an integer")
        sender = body.get("sender")
        if sender is None and not uses_template:
            raise _missing("sender")
        if sender is not None:
            if not isinstance(sender, dict) or not (sender.get("email") or sender.get("id")):
                raise _missing("sender.email")
            if "email" in sender:
                _require_email(sender["email"], "sender")
        if not uses_template:
            if not body.get("subject"):
                raise _missing("subject")
            if not body.get("htmlContent") and not body.get("textContent"):
                raise _missing("htmlContent")
        headers = self._headers_argument(body.get("headers"), "headers")
        tags = body.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise _invalid("tags must be a list of strings")
        reply_to = body.get("replyTo")
        if reply_to is not None:
            _require_email(reply_to.get("email") if isinstance(reply_to, dict) else None, "replyTo")
        global_params = body.get("params") or {}
        if not isinstance(global_params, dict):
            raise _invalid("params must be an object")

        versions = self._versions_argument(body, global_params)
        key = headers.get("idempotencyKey")
        if key is not None:
            self._claim_idempotency_key(key)

        message_ids = []
        for version in versions:
            message_id = self._next_message_id()
            message_ids.append(message_id)
            if self.counts_only:
                self.accepted_counts.update(recipient["email"] for recipient in version["to"])
                continue
            merged_headers = {**headers, **version.get("headers", {})}
            for recipient in version["to"]:
                self.messages.append(
                    {
                        "message_id": message_id,
                        "to": recipient["email"],
                        "to_name": recipient.get("name"),
                        "cc": [item["email"] for item in version.get("cc") or body.get("cc") or []],
                        "bcc": [item["email"] for item in version.get("bcc") or body.get("bcc") or []],
                        # Version params are applied over the request's global params.
                        "params": {**global_params, **version.get("params", {})},
                        "headers": merged_headers,
                        "subject": version.get("subject", body.get("subject")),
                        "html": version.get("htmlContent", body.get("htmlContent")),
                        "text": version.get("textContent", body.get("textContent")),
                        "sender": sender,
                        "reply_to": version.get("replyTo", reply_to),
                        "tags": tags,
                        "template_id": body.get("templateId"),
                        "idempotency_key": key,
                        "request_no": request.request_no,
                    }
                )
        if "messageVersions" in body:
            return Response(201, {"messageIds": message_ids})
        return Response(201, {"messageId": message_ids[0]})

    def _headers_argument(self, headers: Any, where: str) -> dict[str, str]:
        if headers is None:
            return {}
        if not isinstance(headers, dict):
            raise _invalid(f"{where} must be an object")
        # Brevo refuses non-string header values (Anymail stringifies numbers for this reason).
        for name, value in headers.items():
            if not isinstance(value, str):
                raise _invalid(f"{where}.{name} must be a string")
        return headers

    def _recipients_argument(self, recipients: Any, where: str, maximum: int | None) -> list[JsonObject]:
        if not isinstance(recipients, list) or not recipients:
            raise _missing(where)
        if maximum is not None and len(recipients) > maximum:
            raise _out_of_range(f"{where}: at most {maximum} recipients")
        for recipient in recipients:
            if not isinstance(recipient, dict):
                raise _invalid(f"{where} must be a list of {{email, name}} objects")
            _require_email(recipient.get("email"), where)
        return recipients

    def _versions_argument(self, body: JsonObject, global_params: JsonObject) -> list[JsonObject]:
        """Check `to`/`messageVersions` and return the versions to store (`to` is one version)."""
        for copy_field in ("cc", "bcc"):
            if copy_field in body:
                self._recipients_argument(body[copy_field], copy_field, None)
        versions = body.get("messageVersions")
        if versions is None:
            if "to" not in body:
                raise _missing("to")
            return [{"to": self._recipients_argument(body["to"], "to", None)}]
        if not isinstance(versions, list) or not versions:
            raise _missing("messageVersions")
        if len(versions) > MAX_MESSAGE_VERSIONS:
            raise _out_of_range(f"messageVersions: at most {MAX_MESSAGE_VERSIONS} versions")
        total_params = _json_size(global_params) if global_params else 0
        for index, version in enumerate(versions):
            where = f"messageVersions[{index}]"
            if not isinstance(version, dict):
                raise _invalid(f"{where} must be an object")
            self._recipients_argument(version.get("to"), f"{where}.to", MAX_RECIPIENTS_PER_VERSION)
            for copy_field in ("cc", "bcc"):
                if copy_field in version:
                    self._recipients_argument(version[copy_field], f"{where}.{copy_field}", None)
            self._headers_argument(version.get("headers"), f"{where}.headers")
            params = version.get("params")
            if params is not None:
                if not isinstance(params, dict):
                    raise _invalid(f"{where}.params must be an object")
                size = _json_size(params)
                if size > MAX_VERSION_PARAMS_BYTES:
                    raise _out_of_range(f"{where}.params is over 100 KB ({size} bytes)")
                total_params += size
        if total_params > MAX_TOTAL_PARAMS_BYTES:
            raise _out_of_range(f"params over all versions are over 1000 KB ({total_params} bytes)")
        return versions

    def _claim_idempotency_key(self, key: str) -> None:
        # Brevo runs a request with a given idempotencyKey once; a repeat within the TTL is
        # refused with duplicate_parameter and not processed (batch email idempotency guide).
        # No message ids come back on the repeat: the first answer is the only one.
        now = time.monotonic()
        seen = self._idempotency.get(key)
        if seen is not None and now - seen < self.idempotency_window_seconds:
            raise BrevoError(400, "duplicate_parameter", "idempotencyKey has already been used")
        self._idempotency[key] = now

    def _next_message_id(self) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M")
        return f"<{stamp}.{next(self._message_counter)}@{MESSAGE_ID_DOMAIN}>"

    # -- transactional blocklist -------------------------------------------------------------

    def _get_blocked(self, *, request: Request) -> Response:
        query = request.query
        limit = _int_query(query, "limit", DEFAULT_PAGE, MAX_BLOCKED_CONTACTS_PAGE)
        offset = _int_query(query, "offset", 0, 2**31)
        start, end = query.get("startDate", [None])[0], query.get("endDate", [None])[0]
        # getTransacBlockedContacts: startDate and endDate go together (YYYY-MM-DD).
        if (start is None) != (end is None):
            raise _invalid("startDate and endDate must be passed together")
        entries = sorted(self.blocked.values(), key=lambda entry: entry["blockedAt"], reverse=True)
        if start is not None and end is not None:
            try:
                first, last = date.fromisoformat(start), date.fromisoformat(end)
            except ValueError:
                raise _invalid("startDate and endDate must be YYYY-MM-DD") from None
            if first > last:
                raise _invalid("startDate must be before endDate")
            entries = [entry for entry in entries if first <= datetime.fromisoformat(entry["blockedAt"]).date() <= last]
        page = entries[offset : offset + limit]
        return Response(200, {"contacts": [dict(entry) for entry in page], "count": len(entries)})

    def _unblock(self, email: str, *, request: Request) -> Response:
        if self.blocked.pop(email.lower(), None) is None:
            raise _not_found("Contact does not exist in the blocklist")
        return Response(204)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, each answer waits ~40 ms for an ACK.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: test output stays readable; `requests_log` is the record."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        fake: FakeBrevo = self.server.fake  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        path = url.path
        generation = fake.generation
        entry, fault = fake._begin(method, path)
        raw, too_large = self._read_body()
        if fault is not None:
            fake._sleep(fault.delay)
            if fake.generation != generation:
                self._drop()
                return
            with fake.lock:
                entry["fault"] = fault.label
            if fault.drop:
                self._drop()
                return
            if fault.status is not None:
                self._send(entry, fake, self._fault_response(fault))
                return
        response = self._process(fake, method, path, url.query, raw, too_large, entry)
        if fault is not None and fault.drop_after_processing:
            with fake.lock:
                entry["processed_status"] = response.status
            self._drop()
            return
        self._send(entry, fake, response)

    def _read_body(self) -> tuple[bytes, bool]:
        """Read the whole body, even an oversized one, so the client sees an answer rather than
        a reset connection."""
        length = int(self.headers.get("Content-Length") or 0)
        if length <= MAX_BODY_BYTES:
            return self.rfile.read(length), False
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
        return b"", True

    def _process(
        self,
        fake: FakeBrevo,
        method: str,
        path: str,
        raw_query: str,
        raw: bytes,
        too_large: bool,
        entry: JsonObject,
    ) -> Response:
        if too_large:
            return Response(
                413,
                {"code": "out_of_range", "message": f"Request body is over {MAX_BODY_BYTES} bytes"},
            )
        body: Any = {}
        if raw:
            content_type = self.headers.get("Content-Type", "")
            if not content_type.startswith("application/json"):
                return Response(400, {"code": "invalid_parameter", "message": "Content-Type must be application/json"})
            try:
                body = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError):
                return Response(400, {"code": "invalid_parameter", "message": "Input must be a json object"})
            if not isinstance(body, dict):
                return Response(400, {"code": "invalid_parameter", "message": "Input must be a json object"})
        with fake.lock:
            entry["body"] = None if fake.counts_only else body
        request = Request(request_no=entry["request_no"], query=parse_qs(raw_query), body=body)
        return fake._handle(method, path, self.headers.get("api-key"), request)

    def _fault_response(self, fault: Fault) -> Response:
        status = fault.status or 500
        if status == 429:
            # Brevo's rate-limit headers; it sends no Retry-After.
            return Response(
                429,
                {"code": "too_many_requests", "message": "The expected rate limit is exceeded."},
                {
                    "x-sib-ratelimit-limit": str(fault.rate_limit),
                    "x-sib-ratelimit-remaining": "0",
                    "x-sib-ratelimit-reset": str(fault.reset_seconds),
                },
            )
        return Response(status, {"code": "internal_error", "message": "Internal server error"})

    def _send(self, entry: JsonObject, fake: FakeBrevo, response: Response) -> None:
        with fake.lock:
            entry["status"] = response.status
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        try:
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout, usually): what it would have read stays in the log.
            self.close_connection = True

    def _drop(self) -> None:
        """Close the connection without a byte of answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Brevo API v3 until Ctrl-C.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument("--counts-only", action="store_true", help="Count accepted addresses, keep no messages.")
    options = parser.parse_args(argv)
    fake = FakeBrevo(
        api_key=options.api_key, host=options.host, port=options.port, counts_only=options.counts_only
    ).start()
    print(fake.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
