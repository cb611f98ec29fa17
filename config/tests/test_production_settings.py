"""Production settings refuse to start on what would otherwise fall back silently."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPLETE = {
    "SECRET_KEY": "s3cret-for-this-test",
    "DEBUG": "false",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
    "BREVO_API_KEY": "xkeysib-test",
    "ANYMAIL_WEBHOOK_SECRET": "brevo:hook",
    "ERASURE_HASH_KEY": "erasure-key-for-this-test",
}


def run_production(*command: str, **overrides: str) -> subprocess.CompletedProcess[str]:
    """`python *command` with production settings and the COMPLETE environment (less what
    `overrides` empties, plus the rest of it)."""
    env = {key: value for key, value in os.environ.items() if key not in COMPLETE}
    env.update({**COMPLETE, "DJANGO_SETTINGS_MODULE": "config.settings.production", **overrides})
    env = {key: value for key, value in env.items() if value != ""}
    return subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, check=False)


def load_production(**overrides: str) -> subprocess.CompletedProcess[str]:
    return run_production("-c", "import config.settings.production", **overrides)


def test_complete_environment_loads():
    result = load_production()
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("SECRET_KEY", "SECRET_KEY is required"),
        ("REDIS_URL", "REDIS_URL is required"),
        ("ERASURE_HASH_KEY", "ERASURE_HASH_KEY is required"),
        ("DATABASE_URL", "must point at PostgreSQL"),
        ("ANYMAIL_WEBHOOK_SECRET", "ANYMAIL_WEBHOOK_SECRET"),
    ],
)
def test_missing_essentials_stop_the_process(missing, message):
    result = load_production(**{missing: ""})
    assert result.returncode != 0
    assert message in result.stderr


def test_deploy_checks_pass_with_the_documented_settings():
    result = run_production(
        "manage.py", "check", "--deploy", "--fail-level", "WARNING", SECRET_KEY="a-long-random-key-" + "x7Qp2" * 8
    )

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_https_settings_come_from_the_environment():
    result = run_production(
        "-c",
        "from django.conf import settings as s;"
        "print(s.SECURE_PROXY_SSL_HEADER, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS)",
        SECURE_PROXY_SSL_HEADER="X-Scheme",
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="60",
    )

    assert result.stdout.strip() == "('HTTP_X_SCHEME', 'https') False 60", result.stderr
