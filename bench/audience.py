"""Counts and preview pages on the seeded database, for every shape of criteria, with a plain
`SELECT count(*)` over users timed in the same run as the yardstick. `bench.targets` runs it as
a process of its own and reads the JSON it prints last.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/audience_perf python -m bench.audience

BENCH_RUNS sets the warm runs per timing (7), BENCH_JSON_OUT a file for the JSON. Reads only:
the one write (a superuser for the admin's live count and the API) is rolled back.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("DEBUG", "false")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.db.models import Count, Exists, OuterRef  # noqa: E402
from django.db.models.functions import Lower  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.urls import reverse  # noqa: E402

from accounts.models import Enrollment, Gender, Lead, LeadStatus, Suppression, User  # noqa: E402
from bench.segments import explain  # noqa: E402  (the same EXPLAIN of the counting SQL)
from campaigns.engagement import FOLLOW_UP_AUDIENCES  # noqa: E402
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, EngagementSummary  # noqa: E402
from campaigns.services.follow_ups import campaign_follow_up  # noqa: E402
from segments.criteria_providers import extra_criteria_clean  # noqa: E402
from segments.models import Membership  # noqa: E402
from segments.selectors import Criteria, PreviewCursor, criteria_counts, matching_users, preview_page  # noqa: E402
from segments.services import segment_create  # noqa: E402

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


def top(queryset: Any, column: str, count: int) -> tuple[Any, ...]:
    rows = queryset.values(column).annotate(n=Count("pk")).order_by("-n", column)[:count]
    return tuple(row[column] for row in rows)


def shapes() -> dict[str, Criteria]:
    """Criteria shaped like real segments, from the broadest to the most mixed, built from values
    present in the data; the heaviest of each kind on purpose."""
    properties = top(Enrollment.objects.all(), "property_id", 500)
    agents = top(Enrollment.objects.exclude(agent=None), "agent_id", 50)
    countries = top(User.objects.all(), "country", 2)
    states = top(User.objects.filter(country=countries[0]).exclude(state=""), "state", 2)
    sources = top(User.objects.exclude(referral_source=""), "referral_source", 2)
    partners = top(User.objects.exclude(referred_by_partner=None), "referred_by_partner_id", 50)
    found = {
        "everyone (no criterion)": Criteria(),
        "active members (preset)": Criteria(membership=Membership.ACTIVE),
        "inactive members (preset)": Criteria(membership=Membership.INACTIVE),
        "staff (preset)": Criteria(membership=Membership.STAFF),
        "gender": Criteria(gender=Gender.FEMALE),
        "2 countries + active members": Criteria(countries=countries, membership=Membership.ACTIVE),
        "country + 2 states": Criteria(countries=countries[:1], states=states),
        "2 traffic sources": Criteria(traffic_sources=sources),
        "partners (the 50 who referred most)": Criteria(partners=partners),
        "properties (the 3 most popular)": Criteria(properties=properties[:3]),
        "properties (the 50 most popular)": Criteria(properties=properties[:50]),
        "properties (all of them)": Criteria(properties=properties),
        "agents (the 3 busiest)": Criteria(agents=agents[:3]),
        "agents (the 50 busiest)": Criteria(agents=agents),
        "3 properties + 2 countries + active members": Criteria(
            properties=properties[:3], countries=countries, membership=Membership.ACTIVE
        ),
        "3 agents + gender + 2 traffic sources": Criteria(
            agents=agents[:3], gender=Gender.FEMALE, traffic_sources=sources
        ),
        "50 properties + 50 agents + country + gender + active": Criteria(
            properties=properties[:50],
            agents=agents,
            countries=countries[:1],
            gender=Gender.MALE,
            membership=Membership.ACTIVE,
        ),
        "50 partners + 2 countries + inactive members": Criteria(
            partners=partners, countries=countries, membership=Membership.INACTIVE
        ),
    }
    found.update(engagement_shapes())
    return found


def engagement_shapes() -> dict[str, Criteria]:
    """Every engagement criterion alone, then mixed with each other and with the engine's
    criteria, when the database holds sent campaigns to read them from (`seed_demo --history`)."""
    sent = list(
        Campaign.objects.filter(status=CampaignStatus.SENT).order_by("-sent_at").values_list("pk", flat=True)[:3]
    )
    if not sent:
        return {}
    properties = top(Enrollment.objects.all(), "property_id", 3)
    agents = top(Enrollment.objects.exclude(agent=None), "agent_id", 50)
    countries = top(User.objects.all(), "country", 2)
    sources = top(User.objects.exclude(referral_source=""), "referral_source", 2)
    latest = sent[:1]
    wanted: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
        "received one of the 3 latest campaigns": ({"received_campaigns": sent}, {}),
        "opened one of the 3 latest campaigns": ({"opened_campaigns": sent}, {}),
        "clicked in one of the 3 latest campaigns": ({"clicked_campaigns": sent}, {}),
        "received the 3 latest, opened none": ({"not_opened_campaigns": sent}, {}),
        "received the 3 latest, clicked in none": ({"not_clicked_campaigns": sent}, {}),
        "engaged within 90 days": ({"engaged_within_days": 90}, {}),
        "engaged within 365 days": ({"engaged_within_days": 365}, {}),
        "not engaged within 90 days": ({"not_engaged_within_days": 90}, {}),
        "not engaged within 365 days": ({"not_engaged_within_days": 365}, {}),
        "opened the latest + 2 countries + active members": (
            {"opened_campaigns": latest},
            {"countries": countries, "membership": Membership.ACTIVE},
        ),
        "received the 3 latest, opened none + active members": (
            {"not_opened_campaigns": sent},
            {"membership": Membership.ACTIVE},
        ),
        "clicked in one of the 3 latest + 3 properties": ({"clicked_campaigns": sent}, {"properties": properties}),
        "engaged within 30 days + not clicked the latest + gender": (
            {"engaged_within_days": 30, "not_clicked_campaigns": latest},
            {"gender": Gender.FEMALE},
        ),
        "not engaged within 90 days + 2 traffic sources + inactive members": (
            {"not_engaged_within_days": 90},
            {"traffic_sources": sources, "membership": Membership.INACTIVE},
        ),
        "engaged within 90 days + 50 agents + country": (
            {"engaged_within_days": 90},
            {"agents": agents, "countries": countries[:1]},
        ),
        "received the latest + opened none of the 3 latest + not engaged within 365 days": (
            {"received_campaigns": latest, "not_opened_campaigns": sent, "not_engaged_within_days": 365},
            {},
        ),
    }
    shaped = {}
    for label, (values, engine) in wanted.items():
        cleaned, errors = extra_criteria_clean(values)
        if errors:
            raise SystemExit(f"{label}: {errors}")
        shaped[f"engagement: {label}"] = Criteria(extra=cleaned, **engine)
    return shaped


def follow_up_ms(staff: User, runs: int) -> dict[str, Any]:
    """The follow-up service (segment and draft in one transaction) on the latest sent campaign,
    each audience, every call rolled back; the slowest audience is reported."""
    campaign = Campaign.objects.filter(status=CampaignStatus.SENT).order_by("-sent_at").first()
    if campaign is None:
        return {}
    timings = {}
    for audience in FOLLOW_UP_AUDIENCES:

        def create(audience: str = audience) -> None:
            with transaction.atomic():
                campaign_follow_up(campaign=campaign, by=staff, audience=audience)
                transaction.set_rollback(True)

        timings[audience] = median_ms(create, runs)
    slowest = max(timings, key=lambda audience: timings[audience])
    return {"campaign": str(campaign), "audience": slowest, "ms": timings[slowest], "all_ms": timings}


def middle_cursor(criteria: Criteria, matching: int) -> PreviewCursor:
    ids = list(matching_users(criteria).order_by("pk").values_list("pk", flat=True)[matching // 2 :][:1])
    return PreviewCursor(after=ids[0]) if ids else PreviewCursor()


def admin_form_data(criteria: Criteria) -> dict[str, Any]:
    """The segment form as the admin's live count posts it while staff edit the criteria."""
    data: dict[str, Any] = {
        "name": "",
        "membership": criteria.membership,
        "gender": criteria.gender,
        "countries": list(criteria.countries),
        "states": "\n".join(criteria.states),
        "traffic_sources": "\n".join(criteria.traffic_sources),
        "properties": list(criteria.properties),
        "agents": list(criteria.agents),
        "partners": list(criteria.partners),
    }
    # Contributed criteria (engagement) under their own names: lists of ids or a number of days.
    data.update(criteria.extra)
    return data


def measure(runs: int) -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        (version,) = cursor.fetchone()

    def plain_count() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM accounts_user")
            cursor.fetchone()

    reference_ms = median_ms(plain_count, runs)
    data = {
        "users": User.objects.count(),
        "reachable": User.objects.filter(reachable=True).count(),
        "opted_out": User.objects.filter(email_opted_out_at__isnull=False).count(),
        "suppressions": Suppression.objects.count(),
        "suppressed_users": User.objects.filter(
            Exists(Suppression.objects.filter(email=Lower(OuterRef("email"))))
        ).count(),
        "unverified": User.objects.filter(is_verified=False).count(),
        "enrollments": Enrollment.objects.count(),
        "closed_leads": Lead.objects.filter(status=LeadStatus.CLOSED).count(),
        "sent_campaigns": Campaign.objects.filter(status=CampaignStatus.SENT).count(),
        "ledger_rows": CampaignRecipient.objects.count(),
        "opened_rows": CampaignRecipient.objects.filter(first_opened_at__isnull=False).count(),
        "summary_rows": EngagementSummary.objects.count(),
    }
    rows = []
    for label, criteria in shapes().items():
        counts = criteria_counts(criteria)
        middle = middle_cursor(criteria, counts.matching)
        row = {
            "shape": label,
            "matching": counts.matching,
            "reachable": counts.reachable,
            "count_ms": median_ms(lambda criteria=criteria: criteria_counts(criteria), runs),
            "first_ms": median_ms(lambda criteria=criteria: preview_page(criteria, cursor=PreviewCursor()), runs),
            "middle_ms": median_ms(lambda criteria=criteria, at=middle: preview_page(criteria, cursor=at), runs),
            "last_ms": median_ms(
                lambda criteria=criteria: preview_page(criteria, cursor=PreviewCursor(last=True)), runs
            ),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    slowest = max(rows, key=lambda row: row["count_ms"])
    all_shapes = shapes()
    plan = explain(all_shapes[slowest["shape"]])

    # The admin's live count (form validation, the count, values matching nobody) for the
    # slowest shape, and the API's next page in the middle of the densest segment, over HTTP
    # handling in-process (Django's test client: no network, every middleware).
    with override_settings(ALLOWED_HOSTS=["*"]), transaction.atomic():
        staff = User.objects.create_superuser(email="bench-audience@example.com", password=None)
        client = Client()
        client.force_login(staff)
        url = reverse("admin:segments_segment_count")
        form = admin_form_data(all_shapes[slowest["shape"]])
        answer = client.post(url, form)
        if answer.status_code != 200 or "matching" not in answer.json():
            raise SystemExit(f"the admin's live count answered {answer.status_code}: {answer.content!r}")
        live_ms = median_ms(lambda: client.post(url, form), runs)
        # A saved segment needs a criterion: the densest of those that have one.
        densest = max((row for row in rows if not all_shapes[row["shape"]].is_empty()), key=lambda row: row["matching"])
        cursor = middle_cursor(all_shapes[densest["shape"]], densest["matching"])
        saved = segment_create(by=staff, name="Bench densest", description="", criteria=all_shapes[densest["shape"]])
        page_url = f"/api/segments/{saved.pk}/preview/?page=after:{cursor.after}"
        assert client.get(page_url).status_code == 200
        endpoint_middle_ms = median_ms(lambda: client.get(page_url), runs)
        follow_up = follow_up_ms(staff, runs)
        transaction.set_rollback(True)

    return {
        "postgres": version,
        "reference_ms": reference_ms,
        "data": data,
        "shapes": rows,
        "slowest_shape": slowest["shape"],
        "slowest_plan": plan,
        "admin_live_count": {"shape": slowest["shape"], "ms": live_ms},
        "endpoint_middle_page": {"shape": densest["shape"], "ms": endpoint_middle_ms},
        "follow_up": follow_up,
    }


if __name__ == "__main__":
    measured = json.dumps(measure(int(os.environ.get("BENCH_RUNS", RUNS))))
    if os.environ.get("BENCH_JSON_OUT"):
        Path(os.environ["BENCH_JSON_OUT"]).write_text(measured)
    else:
        print(measured)
