"""Log lines an operator's collector can parse, and Sentry only when a DSN is given."""

import gzip
import io
import json
import logging
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from config.observability import JsonFormatter, logging_config

ROOT = Path(__file__).resolve().parents[2]


def json_logger(stream: io.StringIO) -> logging.Logger:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("config.tests.json")
    logger.handlers = [handler]
    logger.propagate = False
    return logger


def test_json_lines_carry_the_extra_fields():
    stream = io.StringIO()

    json_logger(stream).info("Batch sent: %d accepted", 12, extra={"campaign_id": 7, "accepted": 12})

    line = json.loads(stream.getvalue())
    assert line["message"] == "Batch sent: 12 accepted"
    assert (line["level"], line["logger"]) == ("INFO", "config.tests.json")
    assert (line["campaign_id"], line["accepted"]) == (7, 12)
    assert line["time"].endswith("+00:00")


def test_json_lines_keep_the_traceback_on_one_line():
    stream = io.StringIO()

    try:
        raise RuntimeError("Brevo said no")
    except RuntimeError:
        json_logger(stream).exception("Batch failed", extra={"campaign_id": 7})

    (text,) = stream.getvalue().splitlines()
    line = json.loads(text)
    assert "RuntimeError: Brevo said no" in line["exception"]


def test_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="LOG_FORMAT must be 'plain' or 'json'"):
        logging_config(log_format="xml", level="INFO")


class _Collector(BaseHTTPRequestHandler):
    """Sentry's ingestion endpoint, reduced to remembering what it was sent."""

    received: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        _Collector.received.append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


REPORT = """
import django
django.setup()
import sentry_sdk
client = sentry_sdk.get_client()
print(client.is_active(), sorted(name for name in client.integrations if name in ("django", "rq")))
sentry_sdk.capture_message("readiness probe failed")
sentry_sdk.flush(timeout=5)
"""


def report(**environment: str) -> str:
    env = {key: value for key, value in os.environ.items() if key != "SENTRY_DSN"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.test", PYTHONPATH=str(ROOT), **environment)
    result = subprocess.run(
        [sys.executable, "-c", REPORT], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.strip()


def test_sentry_reports_with_django_and_rq_when_a_dsn_is_set():
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Collector.received = []
    try:
        output = report(SENTRY_DSN=f"http://publickey@127.0.0.1:{server.server_port}/1")
    finally:
        server.shutdown()

    assert output == "True ['django', 'rq']"
    assert any(b"readiness probe failed" in body for body in _Collector.received)


def test_sentry_is_off_without_a_dsn():
    assert report() == "False []"
