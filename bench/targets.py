"""Every target for staff working interactively on a million users, measured in one run: each row
with its target, the result, pass or fail, and its ratio to a plain `SELECT count(*)` over users
timed in the same run (so the numbers mean something on another machine).

    python -m bench.targets --database-url postgres://postgres@127.0.0.1:5432/audience_perf

The database: `manage.py seed_demo --users 1000000 --seed 0 --suppressions 50000 --opt-outs 100000
--history 20` (and migrated). Each step runs as a process of its own:

1. VACUUM (ANALYZE) of the audience's tables: a server with autovacuum off (this one) would
   otherwise leave index-only scans visiting the table for every row written since the load.
2. `bench.audience`: the yardstick count, then every shape of criteria (counts, first, middle and
   last preview pages), engagement criteria alone and mixed included, the admin's live count of
   the slowest shape, the API's page from the middle of the densest segment, and the follow-up
   service on the latest sent campaign.
2b. `bench.tracking`: processing tracking events with and without the engagement
   summary triggers, alternating in one run (each round rolled back).
3. Snapshot and sending: a copy of the database (`<name>_send`, made from it as a template) in
   which every user is made reachable, so the whole audience is a million recipients; then
   `bench.campaigns --only-full` (the real pipeline, two `rqworker` processes, the fake Brevo).
4. `bench.webhooks` on a database of its own (`<name>_webhooks`): Brevo's batches of 500 events,
   then single events, through gunicorn as the README runs it.

Prints the table and a Markdown block (with the EXPLAIN ANALYZE of the slowest count) for
docs/BENCHMARKS.md. Steps 3 and 4 create databases beside the one given and drop them after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
COUNT_TARGET_MS = 300.0
PAGE_TARGET_MS = 50.0
FOLLOW_UP_TARGET_MS = 1000.0
SNAPSHOT_TARGET_S = 15.0
SEND_TARGET_S = 180.0
WEBHOOK_TARGET_EVENTS_PER_S = 2000.0
# The tables counts, previews and snapshots read.
AUDIENCE_TABLES = (
    "accounts_user",
    "accounts_enrollment",
    "accounts_lead",
    "accounts_suppression",
    "campaigns_campaignrecipient",
    "campaigns_engagementsummary",
)
TRACKING_SLOWDOWN_TARGET = 0.20


@dataclass
class Row:
    name: str
    target: str
    result: str
    passed: bool | None  # None: reported, no target
    ratio: float | None = None

    def cells(self) -> list[str]:
        verdict = "—" if self.passed is None else ("pass" if self.passed else "**MISS**")
        ratio = "—" if self.ratio is None else f"{self.ratio:.1f}x"
        return [self.name, self.target, self.result, verdict, ratio]


def database_url(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (1 min), {five:.1f} (5 min)"


def run(args: list[str], env: dict[str, str] | None = None) -> None:
    completed = subprocess.run([sys.executable, *args], cwd=ROOT, env={**os.environ, **(env or {})}, check=False)
    if completed.returncode:
        raise SystemExit(f"{' '.join(args)} failed ({completed.returncode})")


def vacuum(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        for table in AUDIENCE_TABLES:
            connection.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))


def audience_step(url: str, runs: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        env = {"DATABASE_URL": url, "BENCH_RUNS": str(runs), "BENCH_JSON_OUT": out.name}
        run(["-m", "bench.audience"], env)
        return dict(json.loads(Path(out.name).read_text()))


def tracking_step(url: str) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        run(["-m", "bench.tracking"], {"DATABASE_URL": url, "BENCH_JSON_OUT": out.name})
        return dict(json.loads(Path(out.name).read_text()))


def tracking_rows(result: dict[str, Any]) -> list[Row]:
    slowdown = result["slowdown"]
    return [
        Row(
            f"tracking-event processing with the engagement summary's triggers against without "
            f"({result['events']:,} events, {result['rounds']} rounds each, medians: "
            f"{result['with_events_per_second']:,.0f} against {result['without_events_per_second']:,.0f} events/s)",
            f"<= {TRACKING_SLOWDOWN_TARGET:.0%} slower",
            f"{slowdown:+.1%}",
            slowdown <= TRACKING_SLOWDOWN_TARGET,
        )
    ]


def copy_everyone_reachable(url: str) -> str:
    """A copy of the database in which every user may be emailed: a million recipients."""
    name = database_name(url)
    copy = f"{name}_send"
    with psycopg.connect(database_url(url, "postgres"), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(copy)))
        connection.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(copy), sql.Identifier(name)))
    copy_url = database_url(url, copy)
    with psycopg.connect(copy_url, autocommit=True) as connection:
        # The triggers keep `reachable` as they do for any write.
        connection.execute("TRUNCATE accounts_suppression")
        connection.execute(
            "UPDATE accounts_user SET is_verified = true, email_opted_out_at = NULL "
            "WHERE NOT is_verified OR email_opted_out_at IS NOT NULL"
        )
        connection.execute("VACUUM (ANALYZE) accounts_user")
    return copy_url


def drop(url: str) -> None:
    with psycopg.connect(database_url(url, "postgres"), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(database_name(url))))


def send_step(url: str, redis_url: str) -> dict[str, Any]:
    copy_url = copy_everyone_reachable(url)
    try:
        with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
            run(
                [
                    "-m", "bench.campaigns", "--database-url", copy_url, "--redis-url", redis_url,
                    "--workers", "2", "--only-full", "--json-out", out.name,
                ]
            )  # fmt: skip
            (whole,) = json.loads(Path(out.name).read_text())
            return dict(whole)
    finally:
        drop(copy_url)


def webhooks_step(url: str, batch_size: int, events: int) -> dict[str, Any]:
    own = database_url(url, f"{database_name(url)}_webhooks")
    try:
        with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
            run(
                [
                    "-m", "bench.webhooks", "--database-url", own, "--events", str(events),
                    "--batch-size", str(batch_size), "--json-out", out.name,
                ]
            )  # fmt: skip
            return dict(json.loads(Path(out.name).read_text()))
    finally:
        drop(own)


def audience_rows(audience: dict[str, Any]) -> list[Row]:
    reference = audience["reference_ms"]
    rows = [Row("plain `SELECT count(*) FROM accounts_user` (the yardstick)", "—", f"{reference:.1f} ms", None, 1.0)]
    for shape in audience["shapes"]:
        count_ms = shape["count_ms"]
        rows.append(
            Row(
                f"count: {shape['shape']} ({shape['matching']:,} matching, {shape['reachable']:,} reachable)",
                f"< {COUNT_TARGET_MS:.0f} ms",
                f"{count_ms:.1f} ms",
                count_ms < COUNT_TARGET_MS,
                count_ms / reference,
            )
        )
    for shape in audience["shapes"]:
        pages = {"first": shape["first_ms"], "middle": shape["middle_ms"], "last": shape["last_ms"]}
        worst = max(pages, key=lambda page: pages[page])
        rows.append(
            Row(
                f"preview page: {shape['shape']} (slowest of first, middle, last: {worst})",
                f"< {PAGE_TARGET_MS:.0f} ms",
                f"{pages[worst]:.1f} ms",
                pages[worst] < PAGE_TARGET_MS,
                pages[worst] / reference,
            )
        )
    live = audience["admin_live_count"]
    rows.append(
        Row(
            f"admin live count while editing: {live['shape']} (the slowest count)",
            f"< {COUNT_TARGET_MS:.0f} ms",
            f"{live['ms']:.1f} ms",
            live["ms"] < COUNT_TARGET_MS,
            live["ms"] / reference,
        )
    )
    middle = audience["endpoint_middle_page"]
    rows.append(
        Row(
            f"API preview, page from the middle of the densest segment ({middle['shape']})",
            f"< {PAGE_TARGET_MS:.0f} ms",
            f"{middle['ms']:.1f} ms",
            middle["ms"] < PAGE_TARGET_MS,
            middle["ms"] / reference,
        )
    )
    follow_up = audience.get("follow_up")
    if follow_up:
        rows.append(
            Row(
                f"follow-up created (segment + draft, the service): {follow_up['campaign']}, "
                f"slowest audience “{follow_up['audience']}”",
                f"< {FOLLOW_UP_TARGET_MS:.0f} ms",
                f"{follow_up['ms']:.1f} ms",
                follow_up["ms"] < FOLLOW_UP_TARGET_MS,
                follow_up["ms"] / reference,
            )
        )
    return rows


def send_rows(whole: dict[str, Any], reference_ms: float) -> list[Row]:
    recipients = whole["recipients"]
    snapshot, total = whole["snapshot_seconds"], whole["total_seconds"]
    committed = whole["first_claim_seconds"]
    cpu = sum(whole["cpu_seconds"])
    return [
        # Judged on what staff wait for: the ledger committed (its foreign keys are checked at
        # commit, after the statement) and the first batch claimed.
        Row(
            f"snapshot: {recipients:,} reachable recipients frozen into the ledger (click to first batch claimed)",
            f"< {SNAPSHOT_TARGET_S:.0f} s",
            f"{committed:.1f} s (the INSERT {snapshot:.1f} s)",
            committed < SNAPSHOT_TARGET_S,
            committed * 1000 / reference_ms,
        ),
        Row(
            f"send click to last batch accepted: {recipients:,} recipients, 2 workers",
            f"< {SEND_TARGET_S:.0f} s",
            f"{total:.1f} s (snapshot {snapshot:.1f} s + send {whole['send_seconds']:.1f} s)",
            total < SEND_TARGET_S,
            total * 1000 / reference_ms,
        ),
        Row(
            "worker CPU per 1,000 recipients (both workers, user + system)",
            "reported",
            f"{cpu / recipients * 1_000_000:.0f} ms ({cpu:.0f} s in all)",
            None,
        ),
        Row(
            "every recipient accepted exactly once by the fake Brevo",
            "yes",
            str(whole["accepted_once"]),
            bool(whole["accepted_once"]),
        ),
    ]


def webhook_rows(result: dict[str, Any]) -> list[Row]:
    form = "single events" if result["batch_size"] == 1 else f"batches of {result['batch_size']}"
    rate = result["events_per_second"]
    checks = result["checks"]
    return [
        Row(
            f"webhook ingestion, {form} ({result['events']:,} events, {result['requests']:,} requests)",
            f">= {WEBHOOK_TARGET_EVENTS_PER_S:,.0f} events/s",
            f"{rate:,.0f} events/s stored",
            rate >= WEBHOOK_TARGET_EVENTS_PER_S,
        ),
        Row(
            f"webhooks, {form}: nothing lost, nothing doubled ({len(checks)} checks)",
            "all",
            ", ".join(name for name, passed in checks.items() if not passed) or "all ok",
            all(checks.values()),
        ),
    ]


def markdown(rows: list[Row], header: list[str], audience: dict[str, Any] | None) -> str:
    lines = [*header, "", "| measurement | target | result | pass | ratio to count(*) |", "|---|---|---:|---|---:|"]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    if audience is not None:
        lines += [
            "",
            f"EXPLAIN (ANALYZE, BUFFERS) of the slowest count, “{audience['slowest_shape']}”:",
            "",
            "```",
            audience["slowest_plan"],
            "```",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--runs", type=int, default=7, help="warm runs per timing (the median is kept)")
    parser.add_argument("--skip-send", action="store_true", help="no snapshot or sending run")
    parser.add_argument("--skip-webhooks", action="store_true", help="no webhook runs")
    parser.add_argument("--skip-tracking", action="store_true", help="no tracking-processing comparison")
    parser.add_argument("--only-audience", action="store_true", help="counts, pages and follow-ups only")
    args = parser.parse_args()

    started = datetime.now(UTC)
    header = [
        f"Run {started:%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} cores), load average at start "
        f"{load()}; `python -m bench.targets --database-url postgres://.../{database_name(args.database_url)}`."
    ]
    steps: list[str] = []
    clock = time.monotonic()
    vacuum(args.database_url)
    steps.append(f"vacuum {time.monotonic() - clock:.0f} s")
    audience = audience_step(args.database_url, args.runs)
    steps.append(f"counts and pages done at load {load()}")
    rows = audience_rows(audience)
    data = audience["data"]
    header.append(
        f"Data: {data['users']:,} users ({data['reachable']:,} reachable; {data['unverified']:,} unverified, "
        f"{data['opted_out']:,} opted out, {data['suppressed_users']:,} with a suppressed address among "
        f"{data['suppressions']:,} suppressions), {data['enrollments']:,} enrollments, {data['closed_leads']:,} "
        f"closed leads; {data.get('sent_campaigns', 0):,} sent campaigns, {data.get('ledger_rows', 0):,} ledger rows "
        f"({data.get('opened_rows', 0):,} opened by a person), {data.get('summary_rows', 0):,} engagement summaries. "
        f"{audience['postgres'].split(' on ')[0]}, the project's session settings (jit off, "
        "random_page_cost 1.1)."
    )
    if args.only_audience:
        args.skip_send = args.skip_webhooks = args.skip_tracking = True
    if not args.skip_tracking:
        rows += tracking_rows(tracking_step(args.database_url))
        steps.append(f"tracking comparison done at load {load()}")
    if not args.skip_send:
        whole = send_step(args.database_url, args.redis_url)
        rows += send_rows(whole, audience["reference_ms"])
        steps.append(f"sending done at load {load()}")
    if not args.skip_webhooks:
        for batch_size, events in ((500, 100_000), (1, 20_000)):
            rows += webhook_rows(webhooks_step(args.database_url, batch_size, events))
        steps.append(f"webhooks done at load {load()}")
    header.append("Steps: " + "; ".join(steps) + ".")

    width = max(len(row.name) for row in rows)
    print()
    for row in rows:
        name, target, result, verdict, ratio = row.cells()
        print(f"{name:<{width}}  {target:>20}  {result:>28}  {verdict:>8}  {ratio:>7}")
    print("\n--- Markdown ---\n")
    print(markdown(rows, header, audience))
    missed = [row.name for row in rows if row.passed is False]
    if missed:
        print(f"\n{len(missed)} row(s) missed their target.")


if __name__ == "__main__":
    main()
