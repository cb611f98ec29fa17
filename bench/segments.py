"""Benchmark segment counts, preview pages and the segment list on the seeded database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/audience_bench python -m bench.segments

Needs a database filled by `manage.py seed_demo` (1,000,000 users for the documented numbers).
Everything the benchmark writes (a superuser, 1,000 segments, their exports, cached counts)
happens inside one transaction that is rolled back, so the database is left as it was.
Prints medians of several warm runs per measurement, the query counts, the EXPLAIN ANALYZE of the
count queries, and a Markdown block for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/audience_bench")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from accounts.models import Enrollment, Gender, Lead, LeadStatus, PartnershipStatus, Role, User  # noqa: E402
from segments.models import ExportStatus, Membership, Segment, SegmentExport  # noqa: E402
from segments.selectors import (  # noqa: E402
    Criteria,
    PreviewCursor,
    criteria_counts,
    matching_users,
    preview_page,
)

RUNS = 7


def median_ms(action: Callable[[], Any], runs: int = RUNS) -> float:
    """Median wall time of `runs` calls after one warm-up call, in milliseconds."""
    action()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def top(queryset: Any, column: str, count: int) -> list[Any]:
    rows = queryset.values(column).annotate(n=Count("pk")).order_by("-n")[:count]
    return [row[column] for row in rows]


def scenarios() -> dict[str, Criteria]:
    """Criteria sets shaped like real segments, built from values present in the seeded data."""
    properties = top(Enrollment.objects.all(), "property_id", 3)
    agents = top(Enrollment.objects.exclude(agent=None), "agent_id", 3)
    countries = top(User.objects.all(), "country", 2)
    sources = top(User.objects.exclude(referral_source=""), "referral_source", 2)
    partners = list(
        User.objects.filter(role=Role.PARTNER, partnership_status=PartnershipStatus.ACTIVE)
        .annotate(n=Count("referred_users"))
        .order_by("-n")
        .values_list("pk", flat=True)[:5]
    )
    return {
        "properties + countries + active members": Criteria(
            properties=tuple(properties), countries=tuple(countries), membership=Membership.ACTIVE
        ),
        "agents + gender + traffic sources": Criteria(
            agents=tuple(agents), gender=Gender.FEMALE, traffic_sources=tuple(sources)
        ),
        "properties + agents + country + gender + active": Criteria(
            properties=tuple(properties),
            agents=tuple(agents),
            countries=tuple(countries[:1]),
            gender=Gender.MALE,
            membership=Membership.ACTIVE,
        ),
        "partners + countries + inactive members": Criteria(
            partners=tuple(partners), countries=tuple(countries), membership=Membership.INACTIVE
        ),
        "broad: countries + active members": Criteria(countries=tuple(countries), membership=Membership.ACTIVE),
    }


def explain(criteria: Criteria) -> str:
    """EXPLAIN ANALYZE of the exact SQL `criteria_counts` sends (captured, then re-run)."""
    captured: list[tuple[str, Any]] = []

    def capture(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        criteria_counts(criteria)
    (sql, params), *_ = captured
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def seed_segments(creator: User, count: int, criteria: Criteria) -> None:
    """`count` segments, each with criteria relations and three exports (rolled back later)."""
    segments = Segment.objects.bulk_create(
        Segment(
            name=f"Bench segment {index}",
            description="benchmark",
            countries=list(criteria.countries),
            membership=Membership.ACTIVE,
            created_by=creator,
            matching_count=index,
            reachable_count=index,
        )
        for index in range(count)
    )
    Segment.properties.through.objects.bulk_create(
        Segment.properties.through(segment_id=segment.pk, property_id=property_id)
        for segment in segments
        for property_id in criteria.properties
    )
    Segment.agents.through.objects.bulk_create(
        Segment.agents.through(segment_id=segment.pk, user_id=agent_id)
        for segment in segments
        for agent_id in criteria.agents
    )
    SegmentExport.objects.bulk_create(
        SegmentExport(segment=segment, status=status, exported_by=creator)
        for segment in segments
        for status in (ExportStatus.SUCCESS, ExportStatus.FAILED, ExportStatus.SUCCESS)
    )


def run(markdown: list[str]) -> None:
    users = User.objects.count()
    print(
        f"users: {users:,}  enrollments: {Enrollment.objects.count():,}  "
        f"closed leads: {Lead.objects.filter(status=LeadStatus.CLOSED).count():,}"
    )
    markdown.append(
        f"Data: {users:,} users, {Enrollment.objects.count():,} enrollments, "
        f"{Lead.objects.count():,} leads (`seed_demo --users 1000000 --seed 0`).\n"
    )

    sets = scenarios()
    markdown.append("| criteria | matching | reachable | counts (both) | first page | last page | middle page |")
    markdown.append("|---|---:|---:|---:|---:|---:|---:|")
    for label, criteria in sets.items():
        counts = criteria_counts(criteria)
        counts_ms = median_ms(lambda criteria=criteria: criteria_counts(criteria))
        first_ms = median_ms(lambda criteria=criteria: preview_page(criteria, cursor=PreviewCursor()))
        last_ms = median_ms(lambda criteria=criteria: preview_page(criteria, cursor=PreviewCursor(last=True)))
        ids = list(matching_users(criteria).order_by("pk").values_list("pk", flat=True)[counts.matching // 2 :][:1])
        middle = PreviewCursor(after=ids[0]) if ids else PreviewCursor()
        middle_ms = median_ms(lambda criteria=criteria, middle=middle: preview_page(criteria, cursor=middle))
        row = (
            f"| {label} | {counts.matching:,} | {counts.reachable:,} | {counts_ms:.0f} ms | {first_ms:.1f} ms "
            f"| {last_ms:.1f} ms | {middle_ms:.1f} ms |"
        )
        print(row)
        markdown.append(row)

    creator = User.objects.create_superuser(email="bench-segments@example.com", password=None)
    client = APIClient()
    client.force_authenticate(creator)
    heavy = sets["properties + countries + active members"]
    saved = Segment.objects.create(
        name="Bench preview", countries=list(heavy.countries), membership=heavy.membership, created_by=creator
    )
    saved.properties.set(heavy.properties)
    preview_url = f"/api/segments/{saved.pk}/preview/"
    first = client.get(preview_url).json()
    endpoint_first = median_ms(lambda: client.get(preview_url))
    endpoint_last = median_ms(lambda: client.get(preview_url, {"page": "last"}))
    endpoint_next = median_ms(lambda: client.get(first["next"]))
    markdown.append("")
    markdown.append(
        f"Preview endpoint, saved segment “{saved.name}” ({first['matching_count']:,} matching): "
        f"first page with live recount {endpoint_first:.0f} ms; next page {endpoint_next:.1f} ms; "
        f"last page {endpoint_last:.1f} ms (later pages reuse the counts taken with the first)."
    )

    seed_segments(creator, 1000, heavy)
    total = Segment.objects.count()
    queries: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        answer = client.get("/api/segments/")
    assert answer.status_code == 200, answer.content
    list_ms = median_ms(lambda: client.get("/api/segments/"))
    list_200_ms = median_ms(lambda: client.get("/api/segments/", {"page_size": 200}))
    search_ms = median_ms(lambda: client.get("/api/segments/", {"search": "segment 99", "ordering": "name"}))
    stats_ms = median_ms(lambda: client.get("/api/segments/stats/"))
    line = (
        f"List endpoint with {total:,} segments: page of 50 {list_ms:.1f} ms in {len(queries)} queries; "
        f"page of 200 {list_200_ms:.1f} ms; search + ordering {search_ms:.1f} ms; stats {stats_ms:.1f} ms."
    )
    print(line)
    markdown.append(line)

    for label in ("properties + agents + country + gender + active", "properties + countries + active members"):
        plan = explain(sets[label])
        title = f"EXPLAIN (ANALYZE, BUFFERS) of the count query (matching and reachable in one pass), “{label}”"
        print(f"\n{title}\n{plan}")
        markdown += ["", f"{title}:", "", "```", plan, "```"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    markdown = [
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.node()} ({os.cpu_count()} cores, shared; "
        f"PostgreSQL {connection.cursor().connection.info.server_version // 10000}, load average "
        f"{os.getloadavg()[0]:.1f} at start), medians of {RUNS} warm runs; "
        "`DATABASE_URL=postgres://postgres@127.0.0.1:5432/audience_bench python -m bench.segments`.\n"
    ]
    with override_settings(ALLOWED_HOSTS=["*"], DEBUG=False), transaction.atomic():
        run(markdown)
        transaction.set_rollback(True)
    print("\n--- Markdown ---\n")
    print("\n".join(markdown))


if __name__ == "__main__":
    main()
