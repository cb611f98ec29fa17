"""POST /smtp/email, the one route Anymail's Brevo backend calls (anymail/backends/brevo.py).
Sources: Brevo's API reference, https://developers.brevo.com/reference (sendTransacEmail), and the
batch idempotency guide, https://developers.brevo.com/docs/heterogenous-versions-batch-emails."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from fakebrevo.protocol import EMAIL_RE, BrevoError, JsonObject, Request, Response, invalid, missing, out_of_range

# sendTransacEmail: at most 1,000 message versions per request, each to at most 99 recipients.
MAX_MESSAGE_VERSIONS = 1000
MAX_RECIPIENTS_PER_VERSION = 99
# sendTransacEmail: "params of each version <= 100 KB, all params <= 1000 KB". Brevo does not say
# whether a KB is 1000 or 1024 bytes, so the fake takes the smaller.
MAX_VERSION_PARAMS_BYTES = 100 * 1000
MAX_TOTAL_PARAMS_BYTES = 1000 * 1000
# Idempotency keys are remembered for 30 minutes (batch idempotency guide, "Time-to-live").
IDEMPOTENCY_WINDOW_SECONDS = 30 * 60
MESSAGE_ID_DOMAIN = "smtp-relay.mailin.fr"

Route = tuple[str, str, Callable[..., Response]]


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _require_email(value: Any, where: str) -> str:
    if not isinstance(value, str) or not EMAIL_RE.match(value):
        raise invalid(f"email is not valid in {where}: {value!r}")
    return value


def system_clock() -> datetime:
    return datetime.now(UTC)


class TransactionalApi:
    """Accepted messages and remembered idempotency keys; read and written under `lock`.

    Two account-level limits can be played: email credits (`set_credits`; a send needing more
    than are left is refused whole with 402 `not_enough_credits`, as Brevo's error codes name it,
    https://developers.brevo.com/reference/errors; whether Brevo sends part of such a request is
    not documented, so the fake takes the strict reading and sends none of it), and an account
    that may not send (`forbid_sending`: 403 `permission_denied`, same list). Accepted recipients
    are also counted per hour of `clock` (`accepted_per_hour`), and idempotency keys expire by it,
    so a test can check a sending cap or the idempotency window with a clock it moves itself.
    """

    lock: threading.RLock
    # For million-recipient benchmarks: keep how many times each address was accepted, not every
    # message and request body (gigabytes at that scale); `messages` stays empty.
    counts_only: bool
    messages: list[JsonObject]
    accepted_counts: Counter[str]
    _idempotency: dict[str, datetime]
    _message_counter: Iterator[int]

    def _reset_transactional(self) -> None:
        self.messages = []
        self.accepted_counts = Counter()
        self._idempotency = {}
        self.clock: Callable[[], datetime] = system_clock
        self._accepted_by_hour: Counter[datetime] = Counter()
        self._credits: int | None = None
        self._forbidden: str | None = None

    def set_clock(self, clock: Callable[[], datetime]) -> None:
        """Count accepted messages per hour, and expire idempotency keys, by `clock` (an aware
        datetime) instead of the system's."""
        with self.lock:
            self.clock = clock

    def accepted_per_hour(self) -> dict[datetime, int]:
        """Recipients accepted in each hour (UTC hour starts, by `clock`), in time order."""
        with self.lock:
            return dict(sorted(self._accepted_by_hour.items()))

    def set_credits(self, credits: int | None) -> None:
        """Email credits left on the account (one per recipient); None: unlimited."""
        with self.lock:
            self._credits = credits

    def credits_left(self) -> int | None:
        with self.lock:
            return self._credits

    def forbid_sending(self, message: str | None = "Sender is not allowed to send emails") -> None:
        """Refuse every send with 403 permission_denied and `message` (None: allow again)."""
        with self.lock:
            self._forbidden = message

    def _transactional_routes(self) -> list[Route]:
        return [("POST", r"/v3/smtp/email", self._send_email)]

    def accepted_emails(self) -> list[str]:
        """Recipients of accepted messages in acceptance order; duplicates stay visible."""
        with self.lock:
            if self.counts_only:
                return list(self.accepted_counts.elements())
            return [message["to"] for message in self.messages]

    def _send_email(self, *, request: Request) -> Response:
        body = request.body
        uses_template = body.get("templateId") is not None
        if uses_template and not isinstance(body["templateId"], int):
            raise invalid("templateId must be an integer")
        sender = body.get("sender")
        if sender is None and not uses_template:
            raise missing("sender")
        if sender is not None:
            if not isinstance(sender, dict) or not (sender.get("email") or sender.get("id")):
                raise missing("sender.email")
            if "email" in sender:
                _require_email(sender["email"], "sender")
        if not uses_template:
            if not body.get("subject"):
                raise missing("subject")
            if not body.get("htmlContent") and not body.get("textContent"):
                raise missing("htmlContent")
        headers = self._headers_argument(body.get("headers"), "headers")
        tags = body.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise invalid("tags must be a list of strings")
        reply_to = body.get("replyTo")
        if reply_to is not None:
            _require_email(reply_to.get("email") if isinstance(reply_to, dict) else None, "replyTo")
        global_params = body.get("params") or {}
        if not isinstance(global_params, dict):
            raise invalid("params must be an object")

        versions = self._versions_argument(body, global_params)
        if self._forbidden is not None:
            raise BrevoError(403, "permission_denied", self._forbidden)
        needed = sum(len(version["to"]) for version in versions)
        if self._credits is not None and needed > self._credits:
            raise BrevoError(
                402,
                "not_enough_credits",
                f"You do not have enough credits to send this email (required: {needed}, available: {self._credits})",
            )
        key = headers.get("idempotencyKey")
        if key is not None:
            self._claim_idempotency_key(key)

        if self._credits is not None:
            self._credits -= needed
        hour = self.clock().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        self._accepted_by_hour[hour] += needed
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
        # sendTransacEmail answers {messageId}, or with versions {messageIds} in version order.
        if "messageVersions" in body:
            return Response(201, {"messageIds": message_ids})
        return Response(201, {"messageId": message_ids[0]})

    def _headers_argument(self, headers: Any, where: str) -> dict[str, str]:
        if headers is None:
            return {}
        if not isinstance(headers, dict):
            raise invalid(f"{where} must be an object")
        # Brevo refuses non-string header values (Anymail stringifies numbers for this reason).
        for name, value in headers.items():
            if not isinstance(value, str):
                raise invalid(f"{where}.{name} must be a string")
        return headers

    def _recipients_argument(self, recipients: Any, where: str, maximum: int | None) -> list[JsonObject]:
        if not isinstance(recipients, list) or not recipients:
            raise missing(where)
        if maximum is not None and len(recipients) > maximum:
            raise out_of_range(f"{where}: at most {maximum} recipients")
        for recipient in recipients:
            if not isinstance(recipient, dict):
                raise invalid(f"{where} must be a list of {{email, name}} objects")
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
                raise missing("to")
            return [{"to": self._recipients_argument(body["to"], "to", None)}]
        if not isinstance(versions, list) or not versions:
            raise missing("messageVersions")
        if len(versions) > MAX_MESSAGE_VERSIONS:
            raise out_of_range(f"messageVersions: at most {MAX_MESSAGE_VERSIONS} versions")
        total_params = _json_size(global_params) if global_params else 0
        for index, version in enumerate(versions):
            where = f"messageVersions[{index}]"
            if not isinstance(version, dict):
                raise invalid(f"{where} must be an object")
            self._recipients_argument(version.get("to"), f"{where}.to", MAX_RECIPIENTS_PER_VERSION)
            for copy_field in ("cc", "bcc"):
                if copy_field in version:
                    self._recipients_argument(version[copy_field], f"{where}.{copy_field}", None)
            self._headers_argument(version.get("headers"), f"{where}.headers")
            params = version.get("params")
            if params is not None:
                if not isinstance(params, dict):
                    raise invalid(f"{where}.params must be an object")
                size = _json_size(params)
                if size > MAX_VERSION_PARAMS_BYTES:
                    raise out_of_range(f"{where}.params is over 100 KB ({size} bytes)")
                total_params += size
        if total_params > MAX_TOTAL_PARAMS_BYTES:
            raise out_of_range(f"params over all versions are over 1000 KB ({total_params} bytes)")
        return versions

    def _claim_idempotency_key(self, key: str) -> None:
        # Brevo runs a request with a given idempotencyKey once; a repeat within the TTL is
        # refused with duplicate_parameter and not processed (batch idempotency guide).
        # No message ids come back on the repeat: the first answer is the only one.
        now = self.clock()
        seen = self._idempotency.get(key)
        if seen is not None and (now - seen).total_seconds() < IDEMPOTENCY_WINDOW_SECONDS:
            raise BrevoError(400, "duplicate_parameter", "idempotencyKey has already been used")
        self._idempotency[key] = now

    def _next_message_id(self) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M")
        return f"<{stamp}.{next(self._message_counter)}@{MESSAGE_ID_DOMAIN}>"
