"""Fault injection: what goes wrong with a request (an error status, Brevo's 429 with its
rate-limit headers, a slow answer, a dropped connection, a request processed but never answered),
so tests can exercise retries and idempotency."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from fakebrevo.protocol import Response

# What a 429's x-sib-ratelimit-limit reports: the base plan's limit on /contacts, 10 requests per
# second (https://developers.brevo.com/docs/api-limits).
RATE_LIMIT = 10


# Account-level refusals in Brevo's words (its API reference's error codes,
# https://developers.brevo.com/reference/errors): out of credits, not allowed to send.
ACCOUNT_REFUSALS = {
    402: ("not_enough_credits", "You do not have enough credits to send this email"),
    403: ("permission_denied", "Sender is not allowed to send emails"),
}


@dataclass
class Fault:
    """What goes wrong with one request. `status` None means "answer normally"."""

    status: int | None = None
    delay: float = 0.0
    drop: bool = False
    drop_after_processing: bool = False
    reset_seconds: int = 1

    @property
    def label(self) -> str:
        if self.drop_after_processing:
            return "drop_after_processing"
        if self.drop:
            return "drop"
        if self.status is not None:
            return f"status_{self.status}"
        return "delay"

    def response(self) -> Response:
        """The answer a faulty request gets instead of being processed."""
        status = self.status or 500
        if status == 429:
            # Brevo's rate-limit headers (https://developers.brevo.com/docs/limit-headers); it
            # sends no Retry-After.
            return Response(
                429,
                {"code": "too_many_requests", "message": "The expected rate limit is exceeded."},
                {
                    "x-sib-ratelimit-limit": str(RATE_LIMIT),
                    "x-sib-ratelimit-remaining": "0",
                    "x-sib-ratelimit-reset": str(self.reset_seconds),
                },
            )
        if status in ACCOUNT_REFUSALS:
            code, message = ACCOUNT_REFUSALS[status]
            return Response(status, {"code": code, "message": message})
        return Response(status, {"code": "internal_error", "message": "Internal server error"})


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


def normalise_prefix(path_prefix: str | None) -> str | None:
    """Accept "/v3/smtp/email", "smtp/email" or "/smtp/email" alike."""
    if path_prefix is None:
        return None
    stripped = path_prefix.lstrip("/")
    if stripped.startswith("v3/") or stripped == "v3":
        return "/" + stripped
    return "/v3/" + stripped


def matches(path: str, prefix: str | None) -> bool:
    return prefix is None or path.startswith(prefix)


class FaultInjection:
    """The fault controls of the fake server; its state is read and written under `lock`."""

    lock: threading.RLock
    _counted_faults: list[_CountedFault]
    _random_faults: _RandomFaults | None

    def _reset_faults(self) -> None:
        self._counted_faults = []
        self._random_faults = None

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
            self._counted_faults.append(_CountedFault(n, normalise_prefix(path_prefix), fault))

    def drop_after_accept_next(self, n: int, *, path_prefix: str | None = "smtp/email") -> None:
        """Process the next `n` matching requests, then close the connection unanswered.

        The client cannot tell whether Brevo accepted the request: the case idempotency keys
        exist for. Messages are stored and their idempotency key is remembered.
        """
        fault = Fault(drop_after_processing=True)
        with self.lock:
            self._counted_faults.append(_CountedFault(n, normalise_prefix(path_prefix), fault))

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
                path_prefix=normalise_prefix(path_prefix),
                rng=random.Random(seed),
                drop_rate=drop_rate,
                delay_rate=delay_rate,
                delay=delay,
            )

    def _take_fault(self, path: str) -> Fault | None:
        """The fault the next request on `path` gets, if any; called under `lock`."""
        for counted in self._counted_faults:
            if counted.remaining > 0 and matches(path, counted.path_prefix):
                counted.remaining -= 1
                return counted.fault
        randomly = self._random_faults
        if randomly is None or not matches(path, randomly.path_prefix):
            return None
        delay = randomly.delay if randomly.rng.random() < randomly.delay_rate else 0.0
        roll = randomly.rng.random()
        if roll < randomly.drop_rate:
            return Fault(drop=True, delay=delay)
        if roll < randomly.drop_rate + randomly.rate:
            return Fault(status=randomly.rng.choice(randomly.statuses), delay=delay)
        return Fault(delay=delay) if delay else None
