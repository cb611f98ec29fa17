"""Benchmark Brevo tracking-webhook ingestion over real HTTP on PostgreSQL.

    python -m bench.webhooks --events 100000 --batch-size 500 \
        --database-url postgres://postgres@127.0.0.1:5432/audience_track_bench

Drops and recreates the database in the URL, migrates it, and seeds one sent campaign whose
ledger holds `--recipients` rows with Brevo message ids. Then starts a real stack on loopback:
redis-server, gunicorn as the README runs it (`gunicorn config.wsgi`, production settings,
`WEB_CONCURRENCY` sync workers) and one RQ worker, and POSTs `--events` Brevo events (mixed
types, 1 % for message ids nobody knows) with basic auth from `--concurrency` connections:
`--batch-size` events per request (Brevo's batched webhooks send up to 500; 1 is the single-event
form), and `--duplicates` of the requests delivered a second time, as Brevo's retries do.

Prints the rate at which events were stored (every answer must be 2xx, and the view answers
only after the INSERT committed), the time until the worker had processed all of them, and the
checks that nothing was lost or counted twice, plus a Markdown block for docs/BENCHMARKS.md.
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


def build_events(*, count: int, recipients: int, seed: int) -> list[dict[str, Any]]:
    """`count` distinct Brevo events of mixed types, 1 % of them for message ids nobody knows."""
    rng = random.Random(seed)
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
    for number in range(count):
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
    return events


def deliveries(events: list[dict[str, Any]], *, batch_size: int, duplicates: float, seed: int) -> list[Any]:
    """The request bodies: the events `batch_size` at a time (a single event is posted as the
    object itself, as Brevo's unbatched webhook does), plus `duplicates` of them again."""
    rng = random.Random(seed + 1)
    if batch_size == 1:
        bodies: list[Any] = list(events)
    else:
        bodies = [events[start : start + batch_size] for start in range(0, len(events), batch_size)]
    repeated = rng.sample(bodies, round(len(bodies) * duplicates))
    everything = bodies + repeated
    rng.shuffle(everything)
    return everything


def request_bytes(payload: Any, port: int) -> bytes:
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
    parser.add_argument("--events", type=int, default=100_000, help="distinct events")
    parser.add_argument("--batch-size", type=int, default=500, help="events per request (1: single-event webhooks)")
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--duplicates", type=float, default=0.05, help="share of requests delivered twice")
    parser.add_argument("--web-concurrency", type=int, default=4, help="WEB_CONCURRENCY: gunicorn's sync workers")
    parser.add_argument("--concurrency", type=int, default=8, help="connections in flight")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-out", type=Path, help="Also write the numbers and checks as JSON to this file.")
    args = parser.parse_args()

    recreate_database(args.database_url)
    redis_port, web_port = free_port(), free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "SECRET_KEY": "bench-secret-key",
        # Production settings refuse to start without it (erased addresses are kept hashed under it).
        "ERASURE_HASH_KEY": "bench-erasure-key",
        "ANYMAIL_WEBHOOK_SECRET": SECRET,
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Loopback is plain HTTP; a TLS-ending proxy would set the header this trusts.
        "SECURE_SSL_REDIRECT": "false",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)

    os.environ.update(
        {
            key: env[key]
            for key in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ERASURE_HASH_KEY")
        }
    )
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

    events = build_events(count=args.events, recipients=args.recipients, seed=args.seed)
    unique_count = len(events)
    bodies = deliveries(events, batch_size=args.batch_size, duplicates=args.duplicates, seed=args.seed)
    posted_events = sum(len(body) if isinstance(body, list) else 1 for body in bodies)
    requests = [request_bytes(body, web_port) for body in bodies]

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
        # As the README runs it: `gunicorn config.wsgi`, workers and port from the environment.
        web_env = {**env, "WEB_CONCURRENCY": str(args.web_concurrency), "PORT": str(web_port)}
        processes.append(subprocess.Popen([sys.executable, "-m", "gunicorn", "config.wsgi"], cwd=ROOT, env=web_env))
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
    answered = sum(statuses.values())
    by_status = dict(TrackingEvent.objects.values_list("status").annotate(n=Count("id")).order_by())
    unknown_unique = sum(1 for key in unique if key[0].startswith("<unknown."))
    kinds = Counter(key[1] for key in unique if not key[0].startswith("<unknown."))
    ledger = CampaignRecipient.objects.filter(campaign=campaign).aggregate(
        opens=Sum("open_count"), machine_opens=Sum("machine_open_count"), clicks=Sum("click_count")
    )
    checks = {
        "every answer 2xx": set(statuses) == {"200"} and answered == len(bodies),
        "stored == unique events": TrackingEvent.objects.count() == unique_count == len(unique),
        "processed + unmatched == stored": by_status.get("PROCESSED", 0) + by_status.get("UNMATCHED", 0)
        == unique_count,
        "unmatched == unknown ids": by_status.get("UNMATCHED", 0) == unknown_unique,
        "opens counted once": ledger["opens"] == kinds["opened"] + kinds["unique_opened"],
        "machine opens counted once": ledger["machine_opens"] == kinds["proxy_open"],
        "clicks counted once": ledger["clicks"] == kinds["click"],
        "suppressions written": Suppression.objects.exists(),
    }
    rate = unique_count / posted_seconds
    form = "single events" if args.batch_size == 1 else f"batches of {args.batch_size} events"
    lines = [
        f"- {len(bodies):,} webhook POSTs of {form} ({posted_events:,} events: {unique_count:,} distinct, "
        f"{posted_events - unique_count:,} in repeated deliveries, {unknown_unique:,} for unknown message ids) from "
        f"{args.concurrency} connections: **{posted_seconds:.1f} s, {rate:,.0f} distinct events/s stored** "
        f"({posted_events / posted_seconds:,.0f} events/s received; answers: {dict(statuses)})",
        f"- the same server answers {FLOOR_REQUESTS:,} HEAD requests on the webhook URL (Django, middleware, "
        f"the view; no auth, body, database or Redis) at {floor_rate:,.0f} requests/s "
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
        f"`python -m bench.webhooks --events {args.events} --batch-size {args.batch_size} "
        f"--recipients {args.recipients} --duplicates {args.duplicates} --web-concurrency {args.web_concurrency} "
        f"--concurrency {args.concurrency} --database-url postgres://...`; `gunicorn config.wsgi` with "
        f"WEB_CONCURRENCY={args.web_concurrency}, "
        "redis-server, PostgreSQL 15 (synchronous_commit on), all on loopback on the machine that also runs "
        "the load generator."
    )
    print()
    print("\n".join(lines))
    if args.json_out:
        args.json_out.write_text(
            json.dumps(
                {
                    "batch_size": args.batch_size,
                    "requests": len(bodies),
                    "events": unique_count,
                    "posted_events": posted_events,
                    "seconds": posted_seconds,
                    "events_per_second": rate,
                    "answers": dict(statuses),
                    "floor_requests_per_second": floor_rate,
                    "processing_seconds": processed_seconds,
                    "checks": checks,
                }
            )
        )
    if not all(checks.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
