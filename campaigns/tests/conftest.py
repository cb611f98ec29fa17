"""Fixtures for the campaign tests: an audience, a queue drained to the end, fast back-off."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from accounts.models import User
from accounts.tests.factories import UserFactory
from campaigns.services.sending import delivery


@pytest.fixture
def drain(run_jobs: Callable[[], int]) -> Callable[[], int]:
    """Run queued jobs until none is left (jobs enqueue their successors); returns the total."""

    def run() -> int:
        total = 0
        while ran := run_jobs():
            total += ran
        return total

    return run


@pytest.fixture
def audience(db: None) -> Callable[[int], list[User]]:
    """`audience(n)`: n reachable users (verified, active members)."""

    def make(count: int) -> list[User]:
        return UserFactory.create_batch(count)

    return make


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries wait milliseconds instead of seconds; the waiting itself is not under test."""
    monkeypatch.setattr(delivery, "RETRY_BACKOFF_SECONDS", 0.001)
    monkeypatch.setattr(delivery, "RETRY_BACKOFF_MAX_SECONDS", 0.01)
