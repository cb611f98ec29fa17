"""The fake on a port of its own for these tests, reset around each, and a client for it.

No database: these run with or without pytest-django.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakebrevo import FakeBrevo
from fakebrevo.tests.client import API_KEY, Client


@pytest.fixture(scope="session")
def server() -> Iterator[FakeBrevo]:
    fake = FakeBrevo(api_key=API_KEY).start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(server: FakeBrevo) -> Iterator[FakeBrevo]:
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def brevo(fake: FakeBrevo) -> Iterator[Client]:
    client = Client(fake)
    yield client
    client.session.close()
