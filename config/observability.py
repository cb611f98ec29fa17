"""What an operator watches: log lines (plain or JSON), the request log, and Sentry.

Read by the settings (`logging_config`, `sentry_init`) and by MIDDLEWARE (`RequestLogMiddleware`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sentry_sdk
from django.http import HttpRequest, HttpResponse
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.rq import RqIntegration

# Load balancers and orchestrators ask these every few seconds: logging each answer would bury
# every other line. They answer without a session, a user or a database write.
HEALTH_PATHS = frozenset({"/healthz", "/readyz"})

# Attributes every LogRecord has; anything else on a record came from `extra=` and is data.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the `extra=` fields as keys."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key != "request":
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class SkipHealthChecks(logging.Filter):
    """Drops `django.request` lines about the health endpoints (a 503 from /readyz is logged by
    Django as a warning on every probe while a dependency is down)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        return getattr(request, "path", None) not in HEALTH_PATHS


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """LOGGING for every process (web, rqworker, rqcron): one handler on stderr, plain or JSON."""
    if log_format not in ("plain", "json"):
        raise ValueError(f"LOG_FORMAT must be 'plain' or 'json', not {log_format!r}.")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "json": {"()": JsonFormatter},
        },
        "filters": {"skip_health_checks": {"()": SkipHealthChecks}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["skip_health_checks"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.db.backends": {"level": "WARNING"}},
    }


request_logger = logging.getLogger("config.requests")


class RequestLogMiddleware:
    """One line per request (method, path, status, duration). The health probes never reach it
    (config.health answers them first).

    gunicorn's own access log stays off, so the request log has the same format (plain or
    JSON) as every other line and reaches the same place.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        response = self.get_response(request)
        duration_ms = round((time.monotonic() - started) * 1000, 1)
        request_logger.info(
            "%s %s %s %.1fms",
            request.method,
            request.path,
            response.status_code,
            duration_ms,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration_ms,
            },
        )
        return response


def sentry_init(*, dsn: str, environment: str, traces_sample_rate: float) -> None:
    """Error reports from the web (Django) and the workers (RQ jobs) to Sentry.

    No personal data leaves (`send_default_pii` off): the audience's addresses stay here.
    """
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), RqIntegration()],
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
    )
