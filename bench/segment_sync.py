"""Benchmark the Brevo list sync against the fake Brevo server.

    python -m bench.segment_sync [--users 100000] [--left 1000]

Uses its own PostgreSQL database (`audience_syncbench` on the local server, dropped and created
again, then migrated), inserts `--users` reachable users set-based (plus 1,000 unverified ones
the sync must skip), and runs the fake Brevo server in a separate process, as Brevo would be.
The sync runs inline with the project's defaults (retry and poll delays included). Measured:

1. a full sync into a new list: wall time, Brevo calls by kind, peak RSS of this process;
2. a re-sync with nothing changed;
3. a re-sync after `--left` users left the segment;
4. the Python heap peak (tracemalloc) of a full sync of a second segment, in a separate untimed
   pass, to show that memory is bounded by one import chunk, not by the audience.

Prints a Markdown block for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from datetime import UTC, datetime
from typing import Any

DATABASE = "audience_syncbench"
SERVER = "postgres://postgres@127.0.0.1:5432"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ["DATABASE_URL"] = f"{SERVER}/{DATABASE}"

import django  # noqa: E402
import psycopg  # noqa: E402

API_KEY = "bench-key"
STATE = "Bench"


def recreate_database() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")


class CallCounter(logging.Handler):
    """Counts the contacts client's calls from its log lines ("brevo METHOD /path -> status")."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.calls: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if not record.getMessage().startswith("brevo ") or "->" not in record.getMessage():
            return
        method, path = record.args[0], str(record.args[1])  # type: ignore[index]
        if path.startswith("contacts/import"):
            kind = "import"
        elif path.startswith("processes/"):
            kind = "process poll"
        elif path.endswith("/contacts/remove"):
            kind = "remove (<=150)"
        else:
            kind = f"{method} {path.split('/')[0]}/{path.split('/')[1]}"
        self.calls[kind] += 1

    def take(self) -> Counter[str]:
        taken, self.calls = self.calls, Counter()
        return taken


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def insert_users(count: int) -> None:
    """Users straight from generate_series: every concrete column gets its model default except
    the few the benchmark sets, so new NOT NULL columns never break the insert."""
    from django.db import connection

    from accounts.models import User

    # Column -> (SQL expression over the series value i, its parameters).
    chosen: dict[str, tuple[str, list[Any]]] = {
        "email": ("'member' || i || '@example.com'", []),
        "first_name": ("'First' || i", []),
        "last_name": ("'Last' || i", []),
        "state": ("%s", [STATE]),
        # The first 1,000 are unverified: matching but not reachable.
        "is_verified": ("i > %s", [1000]),
    }
    columns, expressions, params = [], [], []
    for field in User._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        expression, expression_params = chosen.get(
            field.name, ("%s", [field.get_db_prep_save(field.get_default(), connection)])
        )
        expressions.append(expression)
        params.extend(expression_params)
    sql = (
        f"INSERT INTO accounts_user ({', '.join(columns)}) "
        f"SELECT {', '.join(expressions)} FROM generate_series(1, %s) AS i"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, count + 1000])
        cursor.execute("ANALYZE accounts_user")


def timed_sync(segment: Any, counter: CallCounter) -> tuple[Any, float, Counter[str]]:
    from segments.services import segment_sync_run, segment_sync_start

    started = time.perf_counter()
    export = segment_sync_start(segment=segment, by=None, enqueue=False)
    export = segment_sync_run(export=export)
    elapsed = time.perf_counter() - started
    if export.status != "SUCCESS":
        sys.exit(f"sync failed: {export.error_message}")
    return export, elapsed, counter.take()


def describe(calls: Counter[str]) -> str:
    return ", ".join(f"{count} {kind}" for kind, count in sorted(calls.items())) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000, help="Reachable users in the segment.")
    parser.add_argument("--left", type=int, default=1_000, help="Users who leave before the re-sync.")
    options = parser.parse_args()

    recreate_database()
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User
    from brevo import brevo_client
    from segments.models import Segment

    call_command("migrate", verbosity=0)
    fake = subprocess.Popen(
        [sys.executable, "-m", "fakebrevo", "--api-key", API_KEY],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = fake.stdout.readline().strip()  # type: ignore[union-attr]
        settings.BREVO_API_KEY = API_KEY
        settings.BREVO_API_URL = base_url
        counter = CallCounter()
        logging.getLogger("brevo.contacts").addHandler(counter)
        logging.getLogger("brevo.contacts").setLevel(logging.INFO)
        logging.getLogger("brevo.contacts").propagate = False

        started = time.perf_counter()
        insert_users(options.users)
        print(f"inserted {options.users + 1000:,} users in {time.perf_counter() - started:.1f} s", flush=True)
        segment = Segment.objects.create(name="Bench", states=[STATE])
        rss_before = peak_rss_mb()

        export, full_seconds, full_calls = timed_sync(segment, counter)
        rss_after = peak_rss_mb()
        segment.refresh_from_db()
        in_list = brevo_client().list_get(list_id=segment.brevo_list_id)["uniqueSubscribers"]
        counter.take()
        print(f"full sync: {full_seconds:.1f} s, {describe(full_calls)}, list holds {in_list:,}", flush=True)

        unchanged, unchanged_seconds, unchanged_calls = timed_sync(segment, counter)
        print(f"no-change re-sync: {unchanged_seconds:.2f} s, {describe(unchanged_calls)}", flush=True)

        leavers = User.objects.filter(state=STATE, is_verified=True).order_by("?").values("pk")[: options.left]
        User.objects.filter(pk__in=list(leavers.values_list("pk", flat=True))).update(state="Elsewhere")
        resync, resync_seconds, resync_calls = timed_sync(segment, counter)
        in_list_after = brevo_client().list_get(list_id=segment.brevo_list_id)["uniqueSubscribers"]
        counter.take()
        print(
            f"re-sync after {options.left:,} left: {resync_seconds:.2f} s, {describe(resync_calls)}, "
            f"removed {resync.removed_count:,}, added {resync.added_count:,}, list holds {in_list_after:,}",
            flush=True,
        )

        copy = Segment.objects.create(name="Bench copy", states=[STATE])
        tracemalloc.start()
        timed_sync(copy, counter)
        _, heap_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"heap peak of a full sync (tracemalloc): {heap_peak / 2**20:.1f} MB", flush=True)

        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            (pg_version,) = cursor.fetchone()
        defaults = (options.users, options.left) == (100_000, 1_000)
        arguments = "" if defaults else f" --users {options.users} --left {options.left}"
        command = f"python -m bench.segment_sync{arguments}"
        print()
        print(
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.node()} (2 cores shared, 24 GB; PostgreSQL "
            f"{pg_version}, Python {platform.python_version()}); `{command}`."
        )
        print()
        print("| run | reachable users | Brevo calls | added | removed | wall time |")
        print("|---|---:|---|---:|---:|---:|")
        print(
            f"| full sync, new list | {export.users_count:,} | {describe(full_calls)} | {export.added_count:,} | "
            f"{export.removed_count:,} | {full_seconds:.1f} s |"
        )
        print(
            f"| re-sync, nothing changed | {unchanged.users_count:,} | {describe(unchanged_calls)} | "
            f"{unchanged.added_count:,} | {unchanged.removed_count:,} | {unchanged_seconds:.2f} s |"
        )
        print(
            f"| re-sync, {options.left:,} left | {resync.users_count:,} | {describe(resync_calls)} | "
            f"{resync.added_count:,} | {resync.removed_count:,} | {resync_seconds:.2f} s |"
        )
        print()
        print(
            f"Brevo's list afterwards: {in_list:,} then {in_list_after:,} contacts. Peak RSS of the benchmark "
            f"process {rss_before:.0f} MB before the first sync, {rss_after:.0f} MB after it; Python heap peak "
            f"of a full sync (tracemalloc, separate pass): {heap_peak / 2**20:.1f} MB."
        )
    finally:
        fake.terminate()
        fake.wait(timeout=10)


if __name__ == "__main__":
    main()
