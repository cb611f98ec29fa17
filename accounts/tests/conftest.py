"""Fixtures the accounts tests share."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from accounts.models import User
from segments.selectors import reachable_users


@pytest.fixture
def reachable_emails(db: None) -> Callable[[], set[str]]:
    """`reachable_emails()`: the addresses every audience may email right now."""

    def emails() -> set[str]:
        return set(reachable_users(User.objects.all()).values_list("email", flat=True))

    return emails
