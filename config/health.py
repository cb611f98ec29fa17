"""`/healthz` and `/readyz` for load balancers and orchestrators.

`/healthz` says the process answers (restart it if not); `/readyz` says it can serve: the
database and Redis answer and every migration is applied (send it traffic only then). Both are
answered by the first middleware, before host validation, the HTTPS redirect, sessions and the
request log: probes come over plain HTTP with the instance's address as Host, every few
seconds, and must stay cheap.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

# A probe must answer before the load balancer's own timeout (a few seconds): a Redis that
# does not answer in this long counts as down.
REDIS_TIMEOUT_SECONDS = 2.0

# Migrations only change with a deploy, which starts new processes: once this process has seen
# them all applied it stops reading the migration files (tens of milliseconds) on every probe.
_migrations_seen_applied = False
_last_failing: tuple[str, ...] = ()


@functools.cache
def _redis() -> redis.Redis:
    # A client of its own with short timeouts: the queue's connection waits indefinitely.
    return redis.Redis.from_url(
        settings.RQ_QUEUE_URL, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
    )


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        # A broken connection would otherwise be reused by the next request of this thread.
        connection.close()
        logger.debug("Readiness: database check failed", exc_info=error)
        return "unreachable"
    return "ok"


def _check_redis() -> str:
    try:
        _redis().ping()
    except redis.RedisError as error:
        logger.debug("Readiness: Redis check failed", exc_info=error)
        return "unreachable"
    return "ok"


def _check_migrations() -> str:
    global _migrations_seen_applied
    if _migrations_seen_applied:
        return "ok"
    try:
        executor = MigrationExecutor(connection)
        unapplied = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    except DatabaseError:
        connection.close()
        return "unknown"
    if unapplied:
        return f"{unapplied} unapplied"
    _migrations_seen_applied = True
    return "ok"


def readiness() -> dict[str, str]:
    """The state of each dependency: "ok", or a short word on what is wrong (no hosts, no errors:
    the endpoint is public)."""
    database = _check_database()
    return {
        "database": database,
        "redis": _check_redis(),
        "migrations": _check_migrations() if database == "ok" else "unknown",
    }


class HealthCheckMiddleware:
    """Answers the two probe paths before any other middleware; passes everything else on."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return JsonResponse({"status": "ok"})
        if request.path == "/readyz":
            return self.ready()
        return self.get_response(request)

    @staticmethod
    def ready() -> JsonResponse:
        global _last_failing
        checks = readiness()
        failing = tuple(name for name, state in checks.items() if state != "ok")
        if failing != _last_failing:
            # Once per change, not once per probe.
            if failing:
                logger.warning("Not ready: %s", ", ".join(f"{name} {checks[name]}" for name in failing))
            else:
                logger.info("Ready again")
            _last_failing = failing
        if failing:
            return JsonResponse({"status": "unavailable", "failing": list(failing), "checks": checks}, status=503)
        return JsonResponse({"status": "ready", "checks": checks})
