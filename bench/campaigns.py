"""Benchmark campaign sending: send click to last batch accepted, against the fake Brevo.

    python -m bench.campaigns --database-url postgres://postgres@127.0.0.1:5432/audience_camp_bench \
        --redis-url redis://127.0.0.1:6379/3 --workers 2

The database must hold the seeded audience (a copy of the `seed_demo` database; it is written
to: campaigns and their ledgers are created, and deleted again at the next run). Three runs:

1. a small campaign (a segment of about 10k users), for the worker memory baseline;
2. the whole audience (every reachable user: 1M on the seeded database), through the real
   pipeline: `campaign_send` in this process, `manage.py rqworker` processes (SimpleWorker, so
   the job runs in the measured process) on Redis, Anymail's Brevo backend, the fake Brevo
   served from this process, counting accepted addresses only;
3. the bare loop: the same number of processes, each claiming 1,000 ledger rows with one SQL
   statement, posting them as one JSON request to the same fake, and marking them sent. No
   personalisation, no Anymail, no jobs: the floor the pipeline is compared with.

Reports the snapshot (audience frozen into the ledger) apart from sending, the per-batch
breakdown the workers log (claim, build, send = Anymail + HTTP, http = round trips, ledger),
peak RSS per worker, and checks that every recipient was accepted exactly once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "bench-brevo-key"
BATCH_LINE = re.compile(r"campaign (\d+) batch \S+: (\d+) sent, (\d+) failed; (.*)$")
STEP = re.compile(r"(\w+) ([\d.]+) ms")
SUBJECT_PREFIX = "[bench]"
BODY_HTML = """<html><head><style>
body { font-family: Helvetica, Arial, sans-serif; color: #222; }
h1 { font-size: 22px; color: #0b5394; } p { line-height: 1.5; margin: 0 0 12px; }
.button { background: #0b5394; color: #fff; padding: 10px 16px; text-decoration: none; }
@media (max-width: 600px) { h1 { font-size: 18px; } }
</style></head><body>
<h1>Hello {{ first_name | default:"there" }},</h1>
<p>Here is what changed this month for {{ email }}: new listings, open days and the programme.</p>
<p>Three new properties opened for enrolment, and agents in your area have new slots.</p>
<p><a class="button" href="https://example.com/news?utm_source=campaign">Read the news</a></p>
<p>See you soon,<br>The team</p>
<p style="font-size:12px;color:#888">You get this because you are a member.
<a href="{{ unsubscribe_url }}">Unsubscribe</a>. Example Ltd, 1 Example Street, London</p>
</body></html>"""


def configure(database_url: str, redis_url: str, fake_url: str) -> dict[str, str]:
    """Environment for this process and the workers: one database, one Redis, the fake Brevo."""
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "false",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "BREVO_API_KEY": API_KEY,
        "BREVO_API_URL": fake_url,
        "LOG_LEVEL": "INFO",
        "CAMPAIGN_BATCH_SIZE": "1000",
    }
    os.environ.update(env)
    return env


@dataclass
class Run:
    name: str
    recipients: int = 0
    snapshot_seconds: float = 0.0
    # Click to the first batch claimed: the snapshot's transaction committed (the ledger's deferred
    # foreign-key checks run at its commit, after `audience_frozen_at` is set) and a worker on it.
    first_claim_seconds: float = 0.0
    send_seconds: float = 0.0
    total_seconds: float = 0.0
    batches: int = 0
    steps_ms: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: list[float] = field(default_factory=list)
    # CPU seconds (user + system) each worker process used, start-up included.
    cpu_seconds: list[float] = field(default_factory=list)
    accepted_once: bool = False


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_workers(count: int, env: dict[str, str], log_dir: Path, name: str) -> list[tuple[subprocess.Popen, Path]]:
    import django_rq
    from rq import Worker

    connection = django_rq.get_connection("default")
    before = len(Worker.all(connection=connection))
    workers = []
    for index in range(count):
        log = log_dir / f"{name}-worker-{index}.log"
        process = subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "default", "--worker-class", "rq.worker.SimpleWorker"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
            start_new_session=True,
        )
        workers.append((process, log))
    deadline = time.monotonic() + 60
    while len(Worker.all(connection=connection)) < before + count:
        if time.monotonic() > deadline:
            raise SystemExit("workers did not start")
        time.sleep(0.2)
    return workers


def stop_workers(workers: list[tuple[subprocess.Popen, Path]]) -> tuple[list[float], list[float]]:
    """Stop the workers; their peak RSS in MB and the CPU seconds they used."""
    peaks = [peak_rss_mb(process.pid) for process, _ in workers]
    cpu = [cpu_seconds(process.pid) for process, _ in workers]
    for process, _ in workers:
        os.killpg(process.pid, signal.SIGTERM)
    for process, _ in workers:
        process.wait(timeout=60)
    return peaks, cpu


def batch_steps(workers: list[tuple[subprocess.Popen, Path]], campaign_id: int) -> tuple[int, dict[str, float]]:
    batches, steps = 0, Counter[str]()
    for _, log in workers:
        for line in log.read_text().splitlines():
            found = BATCH_LINE.search(line)
            if found is None or int(found.group(1)) != campaign_id:
                continue
            batches += 1
            for step, milliseconds in STEP.findall(found.group(4)):
                steps[step] += float(milliseconds)
    return batches, dict(steps)


def run_pipeline(name: str, fake: Any, workers_count: int, env: dict[str, str], log_dir: Path, segment: Any) -> Run:
    from django.db.models import Min

    from accounts.models import User
    from campaigns.models import Campaign, CampaignRecipient, CampaignStatus
    from campaigns.services import campaign_create, campaign_send

    fake.reset()
    admin = User.objects.filter(is_superuser=True).first() or User.objects.first()
    assert admin is not None
    subject = f"{SUBJECT_PREFIX} {name}: news for {{{{ first_name }}}}"
    campaign = campaign_create(by=admin, subject=subject, body_html=BODY_HTML, segment=segment)
    workers = start_workers(workers_count, env, log_dir, name)
    campaign_send(campaign=campaign, by=admin)
    while True:
        campaign.refresh_from_db()
        if campaign.status != CampaignStatus.SENDING:
            break
        time.sleep(0.25)
    peaks, cpu = stop_workers(workers)
    if campaign.status != CampaignStatus.SENT:
        raise SystemExit(f"{name}: campaign ended {campaign.status}: {campaign.status_reason}")
    campaign = Campaign.objects.get(pk=campaign.pk)
    assert campaign.started_at
    assert campaign.audience_frozen_at
    assert campaign.sent_at
    batches, steps = batch_steps(workers, campaign.pk)
    first_claim = CampaignRecipient.objects.filter(campaign=campaign).aggregate(first=Min("claimed_at"))["first"]
    assert first_claim
    counts = fake.accepted_counts
    return Run(
        name=name,
        recipients=campaign.recipients_total,
        snapshot_seconds=(campaign.audience_frozen_at - campaign.started_at).total_seconds(),
        first_claim_seconds=(first_claim - campaign.started_at).total_seconds(),
        send_seconds=(campaign.sent_at - campaign.audience_frozen_at).total_seconds(),
        total_seconds=(campaign.sent_at - campaign.started_at).total_seconds(),
        batches=batches,
        steps_ms=steps,
        peak_rss_mb=peaks,
        cpu_seconds=cpu,
        accepted_once=len(counts) == campaign.recipient_count == campaign.recipients_total
        and set(counts.values()) == {1},
    )


BARE_CLAIM = """
UPDATE campaigns_campaignrecipient SET status = 'SENDING', batch_key = %s, claimed_at = now()
WHERE id IN (
    SELECT id FROM campaigns_campaignrecipient
    WHERE campaign_id = %s AND status = 'PENDING' ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED
) RETURNING id, email, first_name, last_name
"""
BARE_SENT = """
UPDATE campaigns_campaignrecipient AS r SET status = 'SENT', message_id = v.message_id, sent_at = now()
FROM unnest(%s::bigint[], %s::text[]) AS v(id, message_id) WHERE r.id = v.id
"""


def bare_worker(database_url: str, fake_url: str, campaign_id: int) -> None:
    """One bare-loop process: claim 1,000, post them in one request, mark them sent, repeat."""
    import psycopg
    import requests

    session = requests.Session()
    with psycopg.connect(database_url, autocommit=True) as connection:
        while True:
            key = uuid.uuid4()
            rows = connection.execute(BARE_CLAIM, [key, campaign_id]).fetchall()
            if not rows:
                return
            payload = {
                "sender": {"email": "news@example.com", "name": "News"},
                "subject": "News for {{ params.first_name }}",
                "htmlContent": BODY_HTML,
                "headers": {"idempotencyKey": str(key)},
                "messageVersions": [
                    {"to": [{"email": email}], "params": {"first_name": first, "last_name": last, "email": email}}
                    for _, email, first, last in rows
                ],
            }
            response = session.post(f"{fake_url}smtp/email", json=payload, headers={"api-key": API_KEY}, timeout=30)
            response.raise_for_status()
            ids = response.json()["messageIds"]
            connection.execute(BARE_SENT, [[row[0] for row in rows], ids])


def run_bare(fake: Any, workers_count: int, database_url: str, fake_url: str) -> Run:
    from campaigns.models import Campaign, CampaignStatus
    from campaigns.services.sending import ledger_insert_audience

    fake.reset()
    campaign = Campaign.objects.create(subject=f"{SUBJECT_PREFIX} bare loop", body_html=BODY_HTML)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    campaign.refresh_from_db()
    started = time.monotonic()
    total = ledger_insert_audience(campaign=campaign)
    frozen = time.monotonic()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.campaigns", "--bare-worker", str(campaign.pk)],
            cwd=ROOT,
            env={**os.environ, "BENCH_DATABASE_URL": database_url, "BENCH_FAKE_URL": fake_url},
        )
        for _ in range(workers_count)
    ]
    for process in processes:
        if process.wait() != 0:
            raise SystemExit("bare worker failed")
    done = time.monotonic()
    counts = fake.accepted_counts
    return Run(
        name="bare loop",
        recipients=total,
        snapshot_seconds=frozen - started,
        send_seconds=done - frozen,
        total_seconds=done - started,
        batches=len(fake.calls("POST", "smtp/email")),
        accepted_once=len(counts) == total and set(counts.values()) == {1},
    )


def clean(database_url: str) -> None:
    """Forget earlier benchmark campaigns and their ledgers, and vacuum what they left."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "DELETE FROM campaigns_campaignrecipient WHERE campaign_id IN "
            "(SELECT id FROM campaigns_campaign WHERE subject LIKE %s)",
            [f"{SUBJECT_PREFIX}%"],
        )
        connection.execute("DELETE FROM campaigns_campaign WHERE subject LIKE %s", [f"{SUBJECT_PREFIX}%"])
        connection.execute("VACUUM ANALYZE campaigns_campaignrecipient")
        connection.execute("VACUUM ANALYZE campaigns_campaign")


def report(runs: list[Run], workers: int) -> str:
    lines = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} cores), {workers} workers.",
        "",
        "| run | recipients | snapshot s | first batch claimed s | send s | click → last batch s | batches "
        "| peak RSS per worker MB | exactly once |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        rss = ", ".join(f"{peak:.0f}" for peak in run.peak_rss_mb) or "—"
        claimed = f"{run.first_claim_seconds:.1f}" if run.first_claim_seconds else "—"
        lines.append(
            f"| {run.name} | {run.recipients:,} | {run.snapshot_seconds:.1f} | {claimed} | {run.send_seconds:.1f} | "
            f"{run.total_seconds:.1f} | {run.batches} | {rss} | {'yes' if run.accepted_once else 'NO'} |"
        )
    for run in runs:
        if run.cpu_seconds and run.recipients:
            per_thousand = sum(run.cpu_seconds) / run.recipients * 1000
            lines.append(
                f"\n{run.name}: worker CPU {' + '.join(f'{cpu:.1f}' for cpu in run.cpu_seconds)} s, "
                f"{per_thousand * 1000:.0f} ms per 1,000 recipients"
            )
        if run.steps_ms and run.batches:
            per_batch = ", ".join(f"{step} {total / run.batches:.1f} ms" for step, total in run.steps_ms.items())
            lines.append(f"\n{run.name}, mean per batch (summed over both workers' batches): {per_batch}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/audience_camp_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-full", action="store_true", help="Only the small run and the bare loop.")
    parser.add_argument("--only-full", action="store_true", help="Only the whole audience (no small run, no floor).")
    parser.add_argument("--json-out", type=Path, help="Also write the runs as JSON to this file.")
    parser.add_argument("--bare-worker", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.bare_worker is not None:
        bare_worker(os.environ["BENCH_DATABASE_URL"], os.environ["BENCH_FAKE_URL"], options.bare_worker)
        return

    from fakebrevo import FakeBrevo

    fake = FakeBrevo(api_key=API_KEY, counts_only=True).start()
    env = configure(options.database_url, options.redis_url, fake.base_url)
    env["CAMPAIGN_SEND_CONCURRENCY"] = str(options.workers * 2)
    os.environ["CAMPAIGN_SEND_CONCURRENCY"] = env["CAMPAIGN_SEND_CONCURRENCY"]
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import django_rq

    from accounts.models import Gender
    from segments.models import Segment

    django_rq.get_connection("default").flushdb()
    clean(options.database_url)
    small_segment, _ = Segment.objects.get_or_create(
        name=f"{SUBJECT_PREFIX} Texas men", defaults={"states": ["Texas"], "gender": Gender.MALE}
    )
    log_dir = ROOT / "var" / "bench"
    log_dir.mkdir(parents=True, exist_ok=True)
    runs = []
    if not options.only_full:
        runs.append(run_pipeline("small segment", fake, options.workers, env, log_dir, small_segment))
    if not options.skip_full:
        runs.append(run_pipeline("whole audience", fake, options.workers, env, log_dir, None))
    if not options.only_full:
        runs.append(run_bare(fake, options.workers, options.database_url, fake.base_url))
    fake.stop()
    print(report(runs, options.workers))
    answer = json.dumps([run.__dict__ for run in runs], default=str, indent=1)
    print(answer)
    if options.json_out:
        options.json_out.write_text(answer)


if __name__ == "__main__":
    main()
