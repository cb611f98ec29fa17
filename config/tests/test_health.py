"""`/healthz` and `/readyz`: what a load balancer sees, with every dependency up or one down."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import health

ROOT = Path(__file__).resolve().parents[2]
# A port nothing listens on: connections are refused at once.
CLOSED = "127.0.0.1:1"

PROBE = """
import django
django.setup()
from django.test import Client
response = Client().get("/readyz", HTTP_HOST="10.0.0.7")
print(response.status_code, response.content.decode())
"""


def probe_ready(**environment: str) -> tuple[int, dict, list[str]]:
    """`/readyz` in a fresh process whose settings point where `environment` says."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "PYTHONPATH": str(ROOT), **environment}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60
    )
    status, body = result.stdout.strip().split(" ", 1)
    return int(status), json.loads(body), result.stderr.splitlines()


@pytest.fixture
def _fresh_checks(monkeypatch):
    monkeypatch.setattr(health, "_migrations_seen_applied", False)
    monkeypatch.setattr(health, "_last_failing", ())
    health._redis.cache_clear()
    yield
    health._redis.cache_clear()


@pytest.mark.django_db
@pytest.mark.usefixtures("_fresh_checks")
def test_ready_when_database_redis_and_migrations_are(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "redis": "ok", "migrations": "ok"},
    }


@pytest.mark.django_db
@pytest.mark.usefixtures("_fresh_checks")
def test_redis_down_is_named(client, settings):
    settings.RQ_QUEUE_URL = f"redis://{CLOSED}/0"

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["redis"]
    assert response.json()["checks"]["database"] == "ok"


def test_database_down_is_named():
    status, body, _ = probe_ready(DATABASE_URL=f"postgres://postgres@{CLOSED}/gone")

    assert status == 503
    assert body["failing"] == ["database", "migrations"]
    assert body["checks"] == {"database": "unreachable", "redis": "ok", "migrations": "unknown"}


def test_unapplied_migrations_are_named(tmp_path):
    status, body, _ = probe_ready(DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}")

    assert status == 503
    assert body["failing"] == ["migrations"]
    assert body["checks"]["migrations"].endswith(" unapplied")


def test_failure_is_logged_once_as_json_and_not_as_a_request(tmp_path):
    _, _, stderr = probe_ready(DATABASE_URL=f"postgres://postgres@{CLOSED}/gone", LOG_FORMAT="json")

    lines = [json.loads(line) for line in stderr if line.startswith("{")]
    assert all(line["logger"] not in ("config.requests", "django.request") for line in lines)
    (warning,) = [line for line in lines if line["logger"] == "config.health"]
    assert warning["level"] == "WARNING"
    assert warning["message"] == "Not ready: database unreachable, migrations unknown"


def test_probes_need_no_login_host_or_https_and_skip_the_request_log(client, settings, caplog):
    settings.ALLOWED_HOSTS = ["mail.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    caplog.set_level("INFO", logger="config.requests")

    response = client.get("/healthz", HTTP_HOST="10.0.0.7")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert [record for record in caplog.records if record.name == "config.requests"] == []


def test_other_requests_are_logged_once(client, caplog):
    caplog.set_level("INFO", logger="config.requests")

    client.get("/unsubscribe/not-a-token/")

    (record,) = [record for record in caplog.records if record.name == "config.requests"]
    assert (record.method, record.path, record.status) == ("GET", "/unsubscribe/not-a-token/", 400)
