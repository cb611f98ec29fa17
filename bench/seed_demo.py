"""Benchmark `manage.py seed_demo` on a fresh PostgreSQL database.

    python -m bench.seed_demo --users 1000000 --database-url postgres://postgres@127.0.0.1:5432/audience_bench

Drops and recreates the database named in the URL, migrates it, runs seed_demo once (timed, as
an operator would run it: a separate process), and prints the rows per table plus a Markdown
block for docs/BENCHMARKS.md. The database is left in place, seeded, for other benchmarks.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("accounts_user", "accounts_user_groups", "accounts_property", "accounts_enrollment", "accounts_lead")


def recreate_database(url: str) -> str:
    """Drop and create the database the URL names, via the server's `postgres` database."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or name in {"postgres", "template0", "template1"}:
        raise SystemExit(f"refusing to recreate database {name!r}")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


class BackendCpu(threading.Thread):
    """Samples the CPU seconds of the PostgreSQL backends serving one database (from /proc, so
    only for a local server): on a shared machine, CPU time says more than wall time."""

    def __init__(self, url: str, name: str) -> None:
        super().__init__(daemon=True)
        self.url, self.name = url, name
        self.seconds: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        with psycopg.connect(self.url, autocommit=True) as connection:
            while not self.done.wait(0.5):
                rows = connection.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [self.name]
                ).fetchall()
                for (pid,) in rows:
                    try:
                        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    except OSError:
                        continue
                    self.seconds[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime

    def stop(self) -> float:
        self.done.set()
        self.join()
        return sum(self.seconds.values())


def manage(*args: str, url: str) -> float:
    """Run a manage.py command against the database; return its wall-clock seconds."""
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    started = time.monotonic()
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database-url", required=True, help="postgres://... of a database to (re)create")
    args = parser.parse_args()

    name = recreate_database(args.database_url)
    migrate_seconds = manage("migrate", "--noinput", "-v", "0", url=args.database_url)
    seed_command = f"manage.py seed_demo --users {args.users} --seed {args.seed}"
    load_before = os.getloadavg()[0]
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    backend_cpu = BackendCpu(urlunsplit(urlsplit(args.database_url)._replace(path="/postgres")), name)
    backend_cpu.start()
    seed_seconds = manage(*seed_command.split()[1:], url=args.database_url)
    postgres_cpu = backend_cpu.stop()
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    python_cpu = (children_after.ru_utime + children_after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    load_after = os.getloadavg()[0]

    # Not part of the timing: set the visibility map (index-only scans) for whoever benchmarks
    # against this database next, since autovacuum may be off or slow to get there.
    started = time.monotonic()
    with psycopg.connect(args.database_url, autocommit=True) as connection:
        connection.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.SQL(", ").join(map(sql.Identifier, TABLES))))
    vacuum_seconds = time.monotonic() - started

    with psycopg.connect(args.database_url) as connection:
        server = connection.execute("SHOW server_version").fetchone()
        counts = {
            table: connection.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
            for table in TABLES
        }
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print()
    print(f"### seed_demo, {args.users:,} users ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")
    print()
    print(
        f"- Machine: {os.cpu_count()} cores, {memory_gb:.0f} GB RAM, {platform.system()} {platform.machine()}, "
        f"PostgreSQL {server[0] if server else '?'}, Python {platform.python_version()}"
    )
    print(f"- Command: `python -m bench.seed_demo --users {args.users} --seed {args.seed} --database-url ...{name}`")
    print(f"  (fresh database, migrate {migrate_seconds:.1f}s, then `{seed_command}` timed as a separate process)")
    print(f"- Elapsed: **{seed_seconds:.1f}s** for {args.users:,} users (then VACUUM ANALYZE {vacuum_seconds:.1f}s)")
    print(f"- CPU used: seed_demo process {python_cpu:.1f}s, its PostgreSQL backend {postgres_cpu:.1f}s")
    print(f"- 1-minute load average before/after: {load_before:.1f} / {load_after:.1f} (machine shared; noisy)")
    print("- Rows:")
    for table, row in counts.items():
        print(f"  - `{table}`: {row[0] if row else 0:,}")


if __name__ == "__main__":
    main()
