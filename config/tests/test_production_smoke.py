"""The README's production block, run as written, against PostgreSQL, Redis and the fake Brevo.

Each command of the block runs as its own process, in order, with production settings and a
database of its own: the one-off steps must succeed, then the web (gunicorn), two RQ workers
and the cron scheduler serve. An operator's path follows: the admin behind an HTTPS proxy with
its stylesheet, a segment and a campaign through the API, the send. Midway through the send
every process gets SIGTERM, as an orchestrator sends it, and must exit within the grace period
the README gives it; started again, the send completes with each recipient accepted by Brevo
exactly once.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import psycopg
import pytest
import requests
from django.db import connection

from fakebrevo import FakeBrevo

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs a real Redis shared by processes; set REDIS_URL"),
]

# The longest the whole test may take; every wait below stops at this deadline.
TIME_LIMIT_SECONDS = 150
# Grace periods the README gives each process after SIGTERM.
GRACE_SECONDS = {"web": 30, "worker": 90, "cron": 10}
# Small batches answered slowly, so the send is still running when the processes are stopped.
BATCH_SIZE = 10
BREVO_DELAY_SECONDS = 0.3
DEMO_USERS = 300
ADMIN_EMAIL = "ops@example.com"
ADMIN_PASSWORD = "smoke-test-admin-password-4821"
# What a TLS-ending proxy adds to every request it forwards.
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}


@dataclass
class Step:
    """One command of the README block: `service` names the long-running ones."""

    argv: list[str]
    service: str | None


def readme_production_block() -> tuple[dict[str, str], list[Step]]:
    """The `export`s and the commands of the README's production block, comments dropped."""
    section = (ROOT / "README.md").read_text().split("\n## Production\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    exports: dict[str, str] = {}
    steps: list[Step] = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        if not words or words[:2] == ["pip", "install"]:
            # The requirements are what this test runs in already.
            continue
        if words[0] == "export":
            name, value = words[1].split("=", 1)
            exports[name] = value
            continue
        service = "web" if words[0] == "gunicorn" else "worker" if "rqworker" in words else None
        service = "cron" if "rqcron" in words else service
        program = sys.executable if words[0] == "python" else str(BIN / words[0])
        steps.append(Step([program, *words[1:]], service))
    return exports, steps


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def wait_for(self, what: str, check: Any, interval: float = 0.1) -> Any:
        """Poll `check()` until it returns something truthy; fail at the deadline."""
        while time.monotonic() < self.end:
            result = check()
            if result:
                return result
            time.sleep(interval)
        pytest.fail(f"timed out waiting for {what}")

    def left(self) -> float:
        return max(1.0, self.end - time.monotonic())


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]


class Stack:
    """The long-running processes, started with the same commands and environment each time."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.running: list[Service] = []
        self.generation = 0

    def run_once(self, step: Step, deadline: Deadline) -> str:
        result = subprocess.run(
            step.argv, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=deadline.left(), check=False
        )
        assert result.returncode == 0, f"{shlex.join(step.argv[1:])} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def start(self, steps: list[Step], worker_count: int = 2) -> None:
        self.generation += 1
        for step in steps:
            for number in range(worker_count if step.service == "worker" else 1):
                name = f"{step.service}{number + 1 if step.service == 'worker' else ''}"
                # Log lines go to stderr; stdout carries only what a command prints (rqcron's banner).
                log = (self.logs / f"{name}.{self.generation}.log").open("wb")
                printed = (self.logs / f"{name}.{self.generation}.out").open("wb")
                # A session of its own: SIGTERM goes to the main process only, as Docker and
                # Kubernetes send it, and cleanup can reach every child it forked.
                process = subprocess.Popen(
                    step.argv, cwd=ROOT, env=self.env, stdout=printed, stderr=log, start_new_session=True
                )
                printed.close()  # the child keeps its own copy of the descriptor
                self.running.append(Service(name, process, log))

    def stop(self) -> dict[str, float]:
        """SIGTERM to every main process at once; how long each took to exit."""
        started = time.monotonic()
        for service in self.running:
            service.process.send_signal(signal.SIGTERM)
        exited: dict[str, float] = {}
        for service in self.running:
            grace = GRACE_SECONDS[service.name.rstrip("12")]
            try:
                service.process.wait(timeout=max(0.0, started + grace - time.monotonic()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"{service.name} did not exit within {grace}s of SIGTERM:\n{self.tail(service)}")
            exited[service.name] = time.monotonic() - started
            assert service.process.returncode == 0, f"{service.name} exited {service.process.returncode}"
            service.log.close()
        self.running = []
        return exited

    def kill_all(self) -> None:
        for service in self.running:
            if service.process.poll() is None:
                os.killpg(service.process.pid, signal.SIGKILL)
                service.process.wait()
            service.log.close()
        self.running = []

    def tail(self, service: Service) -> str:
        service.log.flush()
        return "\n".join(Path(service.log.name).read_text(errors="replace").splitlines()[-20:])

    def all_logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}" for path in self.logs.iterdir())


@pytest.fixture
def smoke_database() -> Iterator[str]:
    """A database of its own on the suite's PostgreSQL server, created empty and dropped after."""
    settings = connection.settings_dict
    name = f"{settings['NAME'].removeprefix('test_')}_smoke"
    server = {
        "host": settings["HOST"] or "127.0.0.1",
        "port": settings["PORT"] or 5432,
        "user": settings["USER"],
        "password": settings["PASSWORD"] or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    password = f":{server['password']}" if server["password"] else ""
    yield f"postgres://{server['user']}{password}@{server['host']}:{server['port']}/{name}"
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def slow_brevo() -> Iterator[FakeBrevo]:
    server = FakeBrevo(api_key="smoke-brevo-key").start()
    server.fail_randomly(0.0, delay_rate=1.0, delay=BREVO_DELAY_SECONDS, path_prefix="smtp/email")
    yield server
    server.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Site:
    """Plain HTTP to gunicorn, as the proxy forwards it. The session cookies are Secure, which a
    cookie jar keeps off plain HTTP, so they are passed by hand."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.origin = f"https://127.0.0.1:{port}"
        self.token = ""

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        headers = {**PROXY_HEADERS, **self._auth(), **kwargs.pop("headers", {})}
        return requests.get(self.base + path, headers=headers, allow_redirects=False, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        headers = {**PROXY_HEADERS, **self._auth(), "Origin": self.origin, **kwargs.pop("headers", {})}
        return requests.post(self.base + path, headers=headers, allow_redirects=False, timeout=10, **kwargs)

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def admin_login(site: Site) -> dict[str, str]:
    """Logs in through the admin's form; returns the session cookies."""
    page = site.get("/admin/login/")
    assert page.status_code == 200
    csrf_cookie = page.cookies["csrftoken"]
    form_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert form_token
    cookies = {"csrftoken": csrf_cookie}
    answer = site.post(
        "/admin/login/?next=/admin/",
        data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrfmiddlewaretoken": form_token[1]},
        cookies=cookies,
        headers={"Referer": f"{site.origin}/admin/login/"},
    )
    assert answer.status_code == 302, answer.text[:500]
    return {**cookies, "sessionid": answer.cookies["sessionid"]}


def campaign(site: Site, campaign_id: int) -> dict[str, Any]:
    return site.get(f"/api/campaigns/{campaign_id}/").json()


def ledger_emails(site: Site, campaign_id: int, status: str) -> list[str]:
    """Every ledger row's address with that status, following the cursor pages."""
    emails: list[str] = []
    path = f"/api/campaigns/{campaign_id}/recipients/?status={status}"
    while path:
        body = site.get(path).json()
        emails += [row["email"] for row in body["results"]]
        # The links name the public https origin; the same path goes to gunicorn directly.
        path = f"{urlsplit(body['next']).path}?{urlsplit(body['next']).query}" if body["next"] else ""
    return emails


def test_the_readme_production_block(tmp_path, smoke_database, slow_brevo):
    deadline = Deadline(TIME_LIMIT_SECONDS)
    exports, steps = readme_production_block()
    assert exports == {"DJANGO_SETTINGS_MODULE": "config.settings.production"}
    services = [step for step in steps if step.service]
    assert sorted(step.service for step in services) == ["cron", "web", "worker"]

    port = free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DATABASE_"))},
        **exports,
        "SECRET_KEY": "smoke-test-secret-key-" + "k3Yz9" * 8,
        "DATABASE_URL": smoke_database,
        "REDIS_URL": os.environ["REDIS_URL"],
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": f"https://127.0.0.1:{port}",
        "BREVO_API_KEY": slow_brevo.api_key,
        "BREVO_API_URL": slow_brevo.base_url,
        "ANYMAIL_WEBHOOK_SECRET": "brevo:smoke-hook",
        "ERASURE_HASH_KEY": "smoke-erasure-key",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "STATIC_ROOT": str(tmp_path / "static"),
        "LOG_FORMAT": "json",
        "CAMPAIGN_BATCH_SIZE": str(BATCH_SIZE),
        "CAMPAIGN_SEND_CONCURRENCY": "2",
        "DJANGO_SUPERUSER_EMAIL": ADMIN_EMAIL,
        "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD,
    }
    stack = Stack(env, logs)
    try:
        for step in steps:
            if step.service:
                continue
            if "createsuperuser" in step.argv:
                # It asks at a terminal; with --noinput it reads DJANGO_SUPERUSER_*.
                step = Step([*step.argv, "--noinput"], None)
            stack.run_once(step, deadline)
        # An audience to send to, with the README's operator command.
        stack.run_once(Step([sys.executable, "manage.py", "seed_demo", "--users", str(DEMO_USERS)], None), deadline)

        stack.start(services)
        site = Site(port)
        deadline.wait_for("/readyz", lambda: _answers(site, "/readyz"))

        # The admin over HTTPS (plain HTTP is redirected), styled by a compressed, hashed file.
        assert site.get("/admin/login/", headers={"X-Forwarded-Proto": "http"}).status_code == 301
        cookies = admin_login(site)
        home = site.get("/admin/", cookies=cookies)
        assert home.status_code == 200
        stylesheet = re.search(r'<link rel="stylesheet" href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', home.text)
        assert stylesheet, "the admin links no hashed base.css"
        css = site.get(stylesheet[1], headers={"Accept-Encoding": "gzip"})
        assert css.status_code == 200
        assert css.headers["Content-Type"].startswith("text/css")
        assert css.headers["Content-Encoding"] == "gzip"
        assert "immutable" in css.headers["Cache-Control"]
        assert "#header" in css.text

        # A segment and a campaign through the API, then the send.
        token = site.post("/api/auth/token/", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        site.token = token.json()["access"]
        segment = site.post("/api/segments/", json={"name": "Active members", "membership": "ACTIVE"})
        assert segment.status_code == 201, segment.text
        created = site.post(
            "/api/campaigns/",
            json={
                "subject": "Hello {{ first_name }}",
                "body_html": '<p>News</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
                "target_segment": "ALL",
                "segment": segment.json()["id"],
            },
        )
        assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]
        reachable = site.get(f"/api/campaigns/{campaign_id}/audience/").json()["reachable"]
        assert reachable > 4 * BATCH_SIZE
        assert site.post(f"/api/campaigns/{campaign_id}/send/", json={}).status_code == 202

        # Stopped mid-send, as a deploy or a node drain stops them.
        deadline.wait_for("the first batches", lambda: campaign(site, campaign_id)["recipient_count"] > 0)
        exit_seconds = stack.stop()
        accepted_before_restart = len(slow_brevo.accepted_emails())
        assert 0 < accepted_before_restart < reachable, "the processes were not stopped mid-send"

        stack.start(services)
        deadline.wait_for("/readyz after the restart", lambda: _answers(site, "/readyz"))
        deadline.wait_for("the send to finish", lambda: campaign(site, campaign_id)["status"] == "SENT", interval=0.5)

        accepted = Counter(slow_brevo.accepted_emails())
        assert [email for email, times in accepted.items() if times > 1] == []
        assert len(accepted) == reachable
        final = campaign(site, campaign_id)
        assert final["recipients_total"] == final["recipient_count"] == reachable
        assert sorted(ledger_emails(site, campaign_id, "SENT")) == sorted(accepted)
        assert all(seconds < GRACE_SECONDS[name.rstrip("12")] for name, seconds in exit_seconds.items())
        stack.stop()
        # LOG_FORMAT=json: every line every process logged is one JSON object (gunicorn's own too).
        not_json = [
            f"{log.name}: {line}"
            for log in logs.glob("*.log")
            for line in log.read_text().splitlines()
            if not line.startswith("{") or "level" not in json.loads(line)
        ]
        assert not_json == []
    except BaseException:
        print(stack.all_logs())
        raise
    finally:
        stack.kill_all()


def _answers(site: Site, path: str) -> bool:
    try:
        return site.get(path).status_code == 200
    except requests.ConnectionError:
        return False
