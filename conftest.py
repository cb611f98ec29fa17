"""Fixtures every app's tests share: users by role, API clients, the queue, the fake Brevo."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import django_rq
import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient
from rq import SimpleWorker

from accounts.models import Role, User
from config.observability import JsonFormatter
from fakebrevo import FakeBrevo


@pytest.fixture(autouse=True)
def _empty_queue() -> None:
    """Each test starts with an empty Redis database (the queue only carries pointers) and an
    empty cache (rate-limit counters)."""
    django_rq.get_connection("default").flushdb()
    cache.clear()


class _CountingWorker(SimpleWorker):
    """A burst worker in this process that counts the jobs it executed (RQ keeps its own
    counters in Redis, under a key it deletes when a burst worker retires)."""

    executed = 0

    def execute_job(self, job: Any, queue: Any) -> Any:
        self.executed += 1
        return super().execute_job(job, queue)


@pytest.fixture
def run_jobs() -> Callable[..., int]:
    """Drain the default queue in this process (a burst worker), or run at most `max_jobs` of
    its jobs; returns the jobs it ran."""

    def run(max_jobs: int | None = None) -> int:
        queue = django_rq.get_queue("default")
        worker = _CountingWorker([queue], connection=queue.connection)
        worker.work(burst=True, max_jobs=max_jobs, with_scheduler=False)
        return worker.executed

    return run


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(role: str = Role.CLIENT, **fields: Any) -> User:
        from accounts.tests.factories import UserFactory

        return UserFactory(role=role, **fields)

    return make


@pytest.fixture
def admin_user(make_user: Callable[..., User]) -> User:
    return make_user(Role.ADMIN, email="admin@example.com")


@pytest.fixture
def manager_user(make_user: Callable[..., User]) -> User:
    return make_user(Role.MANAGER, email="manager@example.com")


@pytest.fixture(params=[Role.ADMIN, Role.MANAGER])
def staff_client(request: pytest.FixtureRequest, client: Client, make_user: Callable[..., User]) -> Client:
    """The admin site as each role that manages segments sees it (the test runs once per role)."""
    client.force_login(make_user(request.param))
    return client


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def admin_client_api(api_client: APIClient, admin_user: User) -> APIClient:
    api_client.force_authenticate(admin_user)
    return api_client


@pytest.fixture
def manager_client_api(api_client: APIClient, manager_user: User) -> APIClient:
    api_client.force_authenticate(manager_user)
    return api_client


@pytest.fixture(scope="session")
def fake_brevo_server() -> Iterator[FakeBrevo]:
    server = FakeBrevo(api_key="test-brevo-key").start()
    yield server
    server.stop()


@pytest.fixture
def brevo(fake_brevo_server: FakeBrevo, settings: Any) -> FakeBrevo:
    """Brevo configured and pointed at the local fake: Anymail's backend and our contacts client."""
    fake_brevo_server.reset()
    settings.BREVO_API_KEY = fake_brevo_server.api_key
    settings.BREVO_API_URL = fake_brevo_server.base_url
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "BREVO_API_KEY": fake_brevo_server.api_key,
        "BREVO_API_URL": fake_brevo_server.base_url,
    }
    settings.EMAIL_BACKEND = "anymail.backends.brevo.EmailBackend"
    return fake_brevo_server


@pytest.fixture
def fast_brevo(brevo: FakeBrevo, settings: Any) -> FakeBrevo:
    """The fake Brevo with the contacts client's back-off and the process polling shrunk to nothing."""
    settings.BREVO_RETRY_BASE_DELAY = 0.001
    settings.BREVO_PROCESS_POLL_DELAY = 0
    return brevo


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (row locking / SKIP LOCKED); set DATABASE_URL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def json_log_lines(caplog: pytest.LogCaptureFixture) -> Callable[[str], list[dict[str, Any]]]:
    """`json_log_lines(logger)`: what that logger wrote at INFO and above, each line as the JSON
    object LOG_FORMAT=json writes."""
    caplog.set_level("INFO")
    formatter = JsonFormatter()

    def lines(logger: str) -> list[dict[str, Any]]:
        return [json.loads(formatter.format(record)) for record in caplog.records if record.name == logger]

    return lines
