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
}


def load_production(**overrides: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in COMPLETE}
    env.update({**COMPLETE, **overrides})
    env = {key: value for key, value in env.items() if value != ""}
    return subprocess.run(
        [sys.executable, "-c", "import config.settings.production"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_complete_environment_loads():
    result = load_production()
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("SECRET_KEY", "SECRET_KEY is required"),
        ("REDIS_URL", "REDIS_URL is required"),
        ("DATABASE_URL", "must point at PostgreSQL"),
        ("ANYMAIL_WEBHOOK_SECRET", "ANYMAIL_WEBHOOK_SECRET"),
    ],
)
def test_missing_essentials_stop_the_process(missing, message):
    result = load_production(**{missing: ""})
    assert result.returncode != 0
    assert message in result.stderr
