"""Benchmark what staff look at: the live progress endpoint during a large send, a campaign's
timeline, and the admin dashboard (time and query count).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/audience_bench python -m bench.insights [--build]

On the seeded database (`seed_demo` with its campaign history) the largest sent campaign is
measured. `--build` first writes a synthetic history where there is none: 20 sent campaigns over
the last 12 months (the largest with 1,000,000 recipients, the others 50,000) with realistic
delivery, human open, machine open and click times, and one campaign of 1,000,000 recipients
left SENDING (40 % accepted). It is committed (about a minute and 1.5 GB), so use a database
meant for benchmarks. Prints medians of warm runs and a Markdown block for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/audience_bench")

import django

django.setup()

from django.db import connection, connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from accounts.models import User  # noqa: E402
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus  # noqa: E402
from campaigns.services.reports import campaign_report_refresh  # noqa: E402

RUNS = 15
EMAIL = "bench-insights@example.com"


def median_ms(action: Callable[[], Any], runs: int = RUNS) -> float:
    response = action()
    assert response.status_code == 200, response.content[:300]
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _ledger_sql(campaign_id: int, recipients: int, *, sent_share: float, started: str) -> str:
    """INSERT ... SELECT of a campaign's ledger with tracking times spread over ten days."""
    table = CampaignRecipient._meta.db_table
    domains = "ARRAY['gmail.com','yahoo.com','outlook.com','hotmail.com','icloud.com','aol.com','gmx.de'," \
        "'orange.fr','web.de','live.com','example.org','example.net','mail.ru','proton.me']"  # fmt: skip
    return f"""
        INSERT INTO {table} (campaign_id, email, first_name, last_name, status, message_id, attempts, last_error,
            sent_at, delivered_at, first_opened_at, open_count, first_machine_opened_at, machine_open_count,
            first_clicked_at, click_count, hard_bounced_at, soft_bounced_at)
        SELECT {campaign_id}, 'r' || n || '@' || ({domains})[1 + (n::bigint * 7919) % 14], '', '',
            CASE WHEN random() < {sent_share} THEN 'SENT' ELSE 'PENDING' END, 'm' || n, 1, '',
            ts, CASE WHEN r < 0.97 THEN ts + interval '20 seconds' END,
            CASE WHEN r < 0.25 THEN ts + (random() ^ 3) * interval '10 days' END, (r < 0.25)::int,
            CASE WHEN r BETWEEN 0.2 AND 0.45 THEN ts + interval '1 minute' END, (r BETWEEN 0.2 AND 0.45)::int,
            CASE WHEN r < 0.04 THEN ts + (random() ^ 3) * interval '10 days' + interval '1 minute' END, (r < 0.04)::int,
            CASE WHEN r > 0.985 THEN ts + interval '30 seconds' END,
            CASE WHEN r BETWEEN 0.97 AND 0.985 THEN ts + interval '30 seconds' END
        FROM (SELECT n, random() AS r, timestamptz '{started}' + (n / 4000.0) * interval '1 second' AS ts
              FROM generate_series(1, {recipients}) AS n) AS s
    """


def build(admin: User, *, large: int) -> None:
    """A synthetic history: 20 sent campaigns over 12 months and a large one sending."""
    now = datetime.now(UTC)
    for index in range(20):
        size = large if index == 0 else large // 20
        started_at = datetime.fromtimestamp(now.timestamp() - (index * 18 + 2) * 86400, UTC)
        campaign = Campaign.objects.create(
            name=f"Bench history {index + 1}", subject="Bench", body_html="<p>Bench</p>", created_by=admin,
            status=CampaignStatus.SENT, started_at=started_at, sent_at=started_at, audience_frozen_at=started_at,
            recipients_total=size, recipient_count=size,
        )  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(_ledger_sql(campaign.pk, size, sent_share=1.0, started=started_at.isoformat()))
        print(f"  campaign {campaign.pk}: {size:,} recipients", flush=True)
    sending = Campaign.objects.create(
        name="Bench sending", subject="Bench", body_html="<p>Bench</p>", created_by=admin,
        status=CampaignStatus.SENDING, started_at=now, audience_frozen_at=now, recipients_total=large,
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_ledger_sql(sending.pk, large, sent_share=0.4, started=now.isoformat()))
        cursor.execute(f"ANALYZE {CampaignRecipient._meta.db_table}")
    sent = CampaignRecipient.objects.filter(campaign=sending, status="SENT").count()
    Campaign.objects.filter(pk=sending.pk).update(recipient_count=sent)
    print(f"  campaign {sending.pk}: sending, {sent:,} of {large:,} accepted", flush=True)


class BatchWriter(threading.Thread):
    """Records batches of 1,000 as the sending path does (ledger rows SENT, campaign counter up)
    on its own connection, so the progress endpoint is measured while the ledger is written."""

    def __init__(self, campaign_id: int) -> None:
        super().__init__(daemon=True)
        self.campaign_id = campaign_id
        self.stop = threading.Event()
        self.batches = 0

    def run(self) -> None:
        table = CampaignRecipient._meta.db_table
        try:
            while not self.stop.is_set():
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"WITH batch AS (SELECT id FROM {table} WHERE campaign_id = %s AND status = 'PENDING' "
                        "ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED) "
                        f"UPDATE {table} AS r SET status = 'SENT', sent_at = now() FROM batch WHERE r.id = batch.id",
                        [self.campaign_id],
                    )
                    count = cursor.rowcount
                Campaign.objects.filter(pk=self.campaign_id).update(
                    recipient_count=django.db.models.F("recipient_count") + count
                )
                self.batches += 1
                time.sleep(0.05)
        finally:
            connections.close_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", action="store_true", help="write the synthetic history first (committed)")
    parser.add_argument("--recipients", type=int, default=1_000_000, help="size of the large campaigns to build")
    args = parser.parse_args()
    admin = User.objects.filter(email=EMAIL).first() or User.objects.create_superuser(EMAIL, "bench-Insights-pw-1")
    if args.build and not Campaign.objects.filter(name="Bench sending").exists():
        print("Building the synthetic history...", flush=True)
        started = time.perf_counter()
        build(admin, large=args.recipients)
        print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
    largest = Campaign.objects.filter(status=CampaignStatus.SENT).order_by("-recipients_total").first()
    sending = Campaign.objects.filter(status=CampaignStatus.SENDING).order_by("-recipients_total").first()
    if largest is None or sending is None:
        raise SystemExit("No sent or sending campaign to measure: run with --build.")

    api = APIClient()
    api.force_authenticate(admin)
    results: dict[str, str] = {}

    writer = BatchWriter(sending.pk)
    writer.start()
    time.sleep(0.5)
    progress_ms = median_ms(lambda: api.get(f"/api/campaigns/{sending.pk}/progress/"), runs=50)
    writer.stop.set()
    writer.join()
    with CaptureQueriesContext(connection) as progress_queries:
        api.get(f"/api/campaigns/{sending.pk}/progress/")
    results["progress"] = (
        f"{progress_ms:.1f} ms median of 50 during a send of {sending.recipients_total:,} "
        f"({writer.batches} batches of 1,000 recorded meanwhile), {len(progress_queries)} queries"
    )

    refresh_started = time.perf_counter()
    campaign_report_refresh(campaign_id=largest.pk)
    refresh_s = time.perf_counter() - refresh_started
    results["report refresh"] = f"{refresh_s:.2f} s for {largest.recipients_total:,} recipients (background job)"
    for bucket in ("hour", "day"):
        timeline_ms = median_ms(lambda bucket=bucket: api.get(f"/api/campaigns/{largest.pk}/timeline/?bucket={bucket}"))
        results[f"timeline ({bucket})"] = f"{timeline_ms:.1f} ms median of {RUNS}"

    for campaign_id in Campaign.objects.exclude(audience_frozen_at=None).values_list("pk", flat=True):
        if not hasattr(Campaign.objects.get(pk=campaign_id), "report"):
            campaign_report_refresh(campaign_id=campaign_id)
    browser = Client()
    browser.force_login(admin)
    dashboard_ms = median_ms(lambda: browser.get("/admin/"))
    with CaptureQueriesContext(connection) as dashboard_queries:
        assert browser.get("/admin/").status_code == 200
    results["dashboard"] = f"{dashboard_ms:.1f} ms median of {RUNS}, {len(dashboard_queries)} queries"

    ledger_rows = CampaignRecipient.objects.count() if connection.vendor != "postgresql" else _estimate_rows()
    print()
    print(f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} cores), "
          f"load average {os.getloadavg()[0]:.1f}; ledger about {ledger_rows:,} rows.")  # fmt: skip
    print("| measurement | result |\n|---|---|")
    for name, value in results.items():
        print(f"| {name} | {value} |")


def _estimate_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [CampaignRecipient._meta.db_table])
        return int(cursor.fetchone()[0])


if __name__ == "__main__":
    # The test clients call the views in this process with the host "testserver".
    with override_settings(ALLOWED_HOSTS=["*"]):
        main()
