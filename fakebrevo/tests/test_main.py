"""`python -m fakebrevo`, as bench/ runs it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_runs_from_the_command_line() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "fakebrevo", "--port", str(port), "--api-key", "cli-key"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url == f"http://127.0.0.1:{port}/v3/"
        response = requests.post(
            base_url + "contacts/folders", json={"name": "x"}, headers={"api-key": "cli-key"}, timeout=5
        )
        assert response.json() == {"id": 1}
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    assert process.returncode == 0
