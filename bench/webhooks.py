"""Benchmark Brevo tracking-webhook ingestion over real HTTP on PostgreSQL.

    python -m bench.webhooks --events 100000 \
        --database-url postgres://postgres@127.0.0.1:5432/audience_track_bench

Drops and recreates the database in the URL, migrates it, and seeds one sent campaign whose
ledger holds `--recipients` rows with Brevo message ids. Then starts a real stack on loopback:
redis-server, gunicorn (`config.wsgi`, production settings, `--workers` processes of `--threads`
threads) and one RQ worker, and POSTs `--events` Brevo events (mixed types, `--duplicates` of them sent a second
time, 1 % for message ids nobody knows) with basic auth from `--concurrency` connections.

Prints the rate at which events were stored (every answer must be 2xx: Anymail answers after
the receiver's INSERT), the time until the worker had processed all of them, and the checks
that nothing was lost or counted twice, plus a Markdown block for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.seed_demo import recreate_database

ROOT = Path(__file__).resolve().parent.parent
SECRET = "hook:secret"  # noqa: S105 - the benchmark's own throwaway webhook secret
WEBHOOK_PATH = "/anymail/brevo/tracking/"
T0_MS = 1_795_000_000_000  # a fixed base time (November 2026) so runs are reproducible
LINKS = [f"https://example.com/offer/{number}" for number in range(8)]
FLOOR_REQUESTS = 10_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port} after {timeout} s")


def message_id(number: int) -> str:
    return f"<202611200900.{10_000_000 + number}@smtp-relay.mailin.fr>"


def build_events(*, count: int, recipients: int, duplicates: float, seed: int) -> tuple[list[dict[str, Any]], int]:
    """`count` payloads: unique events (mixed types) plus `duplicates` of them repeated."""
    rng = random.Random(seed)
    unique_count = round(count / (1 + duplicates))
    # Weights roughly like a real campaign's webhook traffic.
    kinds = (
        ["request"] * 20
        + ["delivered"] * 20
        + ["unique_opened"] * 10
        + ["opened"] * 15
        + ["proxy_open"] * 3
        + ["click"] * 12
        + ["deferred"] * 4
        + ["soft_bounce"] * 3
        + ["hard_bounce"] * 2
        + ["blocked"] * 1
        + ["spam"] * 1
        + ["unsubscribe"] * 1
    )
    events = []
    for number in range(unique_count):
        unknown = rng.random() < 0.01
        recipient = rng.randrange(recipients)
        kind = rng.choice(kinds)
        payload: dict[str, Any] = {
            "event": kind,
            "email": f"bench{recipient}@example.com",
            "id": 1,
            "message-id": f"<unknown.{number}@smtp-relay.mailin.fr>" if unknown else message_id(recipient),
            # Distinct milliseconds keep each generated event unique, as Brevo's would be.
            "ts_epoch": T0_MS + number,
            "ts": (T0_MS + number) // 1000,
            "subject": "Benchmark",
            "tags": ["campaign-bench"],
        }
        if kind == "click":
            payload["link"] = rng.choice(LINKS)
        if kind in ("soft_bounce", "hard_bounce", "blocked", "deferred"):
            payload["reason"] = "550 5.1.1 mailbox unavailable"
        events.append(payload)
    repeated = rng.sample(events, count - unique_count)
    everything = events + repeated
    rng.shuffle(everything)
    return everything, unique_count


def request_bytes(payload: dict[str, Any], port: int) -> bytes:
    body = json.dumps(payload).encode()
    auth = base64.b64encode(SECRET.encode()).decode()
    head = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Basic {auth}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def post_all(requests: list[bytes], *, port: int, concurrency: int) -> Counter[str]:
    """Send every request over `concurrency` keep-alive connections (reconnecting when the server
    closes one); a request whose connection broke before its answer counts as "no-answer"."""
    statuses: Counter[str] = Counter()
    position = 0

    async def client() -> None:
        nonlocal position
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while position < len(requests):
            raw = requests[position]
            position += 1
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            writer.write(raw)
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                statuses["no-answer"] += 1
                writer.close()
                reader = writer = None
                continue
            statuses[head[9:12].decode()] += 1
            headers = head.decode("latin-1").lower()
            length = (
                int(headers.split("content-length:", 1)[1].split("\r\n", 1)[0]) if "content-length:" in headers else 0
            )
            await reader.readexactly(length)
            if "connection: close" in headers:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--duplicates", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=16, help="threads per gunicorn worker (gthread)")
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive connections in flight")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    recreate_database(args.database_url)
    redis_port, web_port = free_port(), free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "SECRET_KEY": "bench-secret-key",
        "ANYMAIL_WEBHOOK_SECRET": SECRET,
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)

    os.environ.update({key: env[key] for key in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "SECRET_KEY")})
    import django

    django.setup()
    from django.db.models import Count, Sum

    from accounts.models import Suppression, User
    from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus, TrackingEvent

    campaign = Campaign.objects.create(subject="Benchmark", body_html="<p>x</p>", status=CampaignStatus.SENT)
    users = User.objects.bulk_create(
        [User(email=f"bench{number}@example.com", is_verified=True) for number in range(args.recipients)],
        batch_size=5000,
    )
    CampaignRecipient.objects.bulk_create(
        [
            CampaignRecipient(
                campaign=campaign,
                user=user,
                email=user.email,
                status=RecipientStatus.SENT,
                message_id=message_id(number),
            )
            for number, user in enumerate(users)
        ],
        batch_size=5000,
    )
    from django.db import connection

    connection.close()

    events, unique_count = build_events(
        count=args.events, recipients=args.recipients, duplicates=args.duplicates, seed=args.seed
    )
    requests = [request_bytes(payload, web_port) for payload in events]

    work = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(
            subprocess.Popen(
                ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no", "--dir", str(work)],
                stdout=subprocess.DEVNULL,
            )
        )
        wait_for_port(redis_port)
        gunicorn = [
            sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{web_port}",
            "--workers", str(args.workers), "--worker-class", "gthread", "--threads", str(args.threads),
            "--keep-alive", "30", "--backlog", "4096", "--log-level", "warning",
        ]  # fmt: skip
        processes.append(subprocess.Popen(gunicorn, cwd=ROOT, env=env))
        wait_for_port(web_port)
        time.sleep(2)  # let every worker finish importing before the clock starts

        # The ceiling: HEAD on the same URL runs Django, the middleware and Anymail's view, but
        # no auth check, no signal, no database and no Redis.
        floor = [f"HEAD {WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{web_port}\r\n\r\n".encode()] * FLOOR_REQUESTS
        started = time.monotonic()
        floor_statuses = asyncio.run(post_all(floor, port=web_port, concurrency=args.concurrency))
        floor_rate = FLOOR_REQUESTS / (time.monotonic() - started)

        started = time.monotonic()
        statuses = asyncio.run(post_all(requests, port=web_port, concurrency=args.concurrency))
        posted_seconds = time.monotonic() - started
        stored_at_end_of_posting = TrackingEvent.objects.count()

        # Processing is measured on its own: one RQ worker drains the jobs the webhooks queued.
        started = time.monotonic()
        processes.append(subprocess.Popen([sys.executable, "manage.py", "rqworker", "default"], cwd=ROOT, env=env))
        while TrackingEvent.objects.filter(status="PENDING").exists():
            time.sleep(0.2)
        processed_seconds = time.monotonic() - started
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)

    # --- checks: nothing lost, nothing counted twice ---------------------------------------------
    unique = {(event["message-id"], event["event"], event["ts_epoch"]) for event in events}
    by_status = dict(TrackingEvent.objects.values_list("status").annotate(n=Count("id")).order_by())
    unknown_unique = sum(1 for key in unique if key[0].startswith("<unknown."))
    kinds = Counter(key[1] for key in unique if not key[0].startswith("<unknown."))
    ledger = CampaignRecipient.objects.filter(campaign=campaign).aggregate(
        opens=Sum("open_count"), machine_opens=Sum("machine_open_count"), clicks=Sum("click_count")
    )
    checks = {
        "every answer 2xx": set(statuses) == {"200"},
        "stored == unique events": TrackingEvent.objects.count() == unique_count == len(unique),
        "processed + unmatched == stored": by_status.get("PROCESSED", 0) + by_status.get("UNMATCHED", 0)
        == unique_count,
        "unmatched == unknown ids": by_status.get("UNMATCHED", 0) == unknown_unique,
        "opens counted once": ledger["opens"] == kinds["opened"] + kinds["unique_opened"],
        "machine opens counted once": ledger["machine_opens"] == kinds["proxy_open"],
        "clicks counted once": ledger["clicks"] == kinds["click"],
        "suppressions written": Suppression.objects.exists(),
    }
    rate = args.events / posted_seconds
    lines = [
        f"- {args.events:,} webhook POSTs ({unique_count:,} unique events, {args.events - unique_count:,} repeats, "
        f"{unknown_unique:,} unknown message ids) from {args.concurrency} connections: "
        f"**{posted_seconds:.1f} s, {rate:,.0f} events/s stored** (answers: {dict(statuses)})",
        f"- the same server answers {FLOOR_REQUESTS:,} HEAD requests on the webhook URL (Django, middleware, "
        f"Anymail's view; no auth, signal, database or Redis) at {floor_rate:,.0f} requests/s "
        f"({dict(floor_statuses)}): the framework's ceiling here",
        f"- stored when the last answer arrived: {stored_at_end_of_posting:,}; then one RQ worker (started after "
        f"the last POST, worker start-up included) processed them all in {processed_seconds:.1f} s "
        f"({unique_count / processed_seconds:,.0f} events/s)",
        "- checks: " + ", ".join(f"{name}: {'ok' if passed else 'FAILED'}" for name, passed in checks.items()),
    ]
    print()
    print(f"### Tracking webhooks ({datetime.now(UTC):%Y-%m-%d}, {platform.node()}, {os.cpu_count()} cores)")
    print()
    print(
        f"`python -m bench.webhooks --events {args.events} --recipients {args.recipients} "
        f"--duplicates {args.duplicates} --workers {args.workers} --threads {args.threads} "
        f"--concurrency {args.concurrency} --database-url postgres://...`; gunicorn gthread workers, "
        "redis-server, PostgreSQL 15 (synchronous_commit on), all on loopback on the machine that also runs "
        "the load generator."
    )
    print()
    print("\n".join(lines))
    if not all(checks.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
