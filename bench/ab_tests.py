"""Benchmark A/B tests: the snapshot that assigns variants against a plain snapshot, and the decision.

    python -m bench.ab_tests --database-url postgres://postgres@127.0.0.1:5432/audience_ab_bench \
        --redis-url redis://127.0.0.1:6379/3 --users 1000000

Works on a seeded database (`seed_demo`) or an empty one: users are added (`bench-ab-N@example.com`,
reachable, inserted in bulk) until at least `--users` can be emailed. Then, `--repeat` times
each and alternately, the whole audience is frozen into the ledger of a plain campaign and of
an A/B campaign (2 variants, 20 % test share), each in a transaction rolled back afterwards;
the medians and their ratio are reported (target: the A/B snapshot within 1.1x of the plain one).
Last, one A/B snapshot is kept, its test rows get constructed tracking (delivered, B opened a
little more than A) and the automatic decision is timed (target: under 2 s). The campaigns it
made are deleted at the end; the users stay for the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBJECT = "[bench-ab] Spring news"
BODY_HTML = '<p>Hello {{ first_name | default:"there" }}</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
USER_CHUNK = 20_000


def add_users(wanted: int) -> int:
    """Reachable users until `wanted` can be emailed; returns how many were added."""
    from accounts.models import MembershipStatus, Role, User
    from segments.selectors import reachable_users

    missing = wanted - reachable_users(User.objects.all()).count()
    start = User.objects.filter(email__startswith="bench-ab-").count()
    for first in range(start, start + max(missing, 0), USER_CHUNK):
        User.objects.bulk_create(
            User(
                email=f"bench-ab-{index}@example.com",
                first_name="Bench",
                role=Role.CLIENT,
                membership_status=MembershipStatus.ACTIVE,
                is_verified=True,
                country="GB",
            )
            for index in range(first, min(first + USER_CHUNK, start + missing))
        )
    return max(missing, 0)


def snapshot_seconds(campaign_id: int) -> tuple[float, int]:
    """One snapshot of the campaign's audience, timed, then rolled back."""
    from django.db import transaction

    from campaigns.models import Campaign
    from campaigns.services import ledger_insert_audience

    with transaction.atomic():
        campaign = Campaign.objects.get(pk=campaign_id)
        started = time.perf_counter()
        rows = ledger_insert_audience(campaign=campaign)
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed, rows


def decision_seconds(campaign_id: int) -> tuple[float, dict[str, object]]:
    """The kept A/B snapshot's test rows delivered, 20 % of A and 21 % of B opened (by a hash of
    the id, so every run is alike); the automatic decision timed."""
    from django.db import connection
    from django.utils import timezone

    from campaigns.models import Campaign, CampaignStatus
    from campaigns.services import campaign_decide_winner, ledger_insert_audience

    campaign = Campaign.objects.get(pk=campaign_id)
    ledger_insert_audience(campaign=campaign)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE campaigns_campaignrecipient SET status = 'SENT', delivered_at = now(), "
            "first_opened_at = CASE WHEN abs(hashtext(id::text)) %% 100 < (CASE variant WHEN 'A' THEN 20 ELSE 21 END) "
            "THEN now() END WHERE campaign_id = %s AND NOT ab_remainder",
            [campaign_id],
        )
        cursor.execute("ANALYZE campaigns_campaignrecipient")
    now = timezone.now()
    Campaign.objects.filter(pk=campaign_id).update(
        status=CampaignStatus.WAITING_FOR_WINNER, audience_frozen_at=now, ab_decide_at=now - timedelta(seconds=1)
    )
    started = time.perf_counter()
    assert campaign_decide_winner(campaign_id=campaign_id, now=now)
    elapsed = time.perf_counter() - started
    campaign.refresh_from_db()
    return elapsed, dict(campaign.ab_decision or {})


def clean() -> None:
    from campaigns.models import Campaign, CampaignRecipient

    CampaignRecipient.objects.filter(campaign__subject=SUBJECT).delete()
    Campaign.objects.filter(subject=SUBJECT).delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/audience_ab_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/3", help="Where the decision queues its job.")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json-out", type=Path)
    options = parser.parse_args()
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DEBUG": "false",
            "DATABASE_URL": options.database_url,
            "REDIS_URL": options.redis_url,
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from accounts.models import User
    from campaigns.services import campaign_create

    clean()
    added = add_users(options.users)
    owner = User.objects.order_by("pk").first()
    assert owner is not None
    plain = campaign_create(by=owner, subject=SUBJECT, body_html=BODY_HTML, layout=None)
    tested = campaign_create(
        by=owner,
        subject=SUBJECT,
        body_html=BODY_HTML,
        layout=None,
        variants=[{}, {"subject": "Spring news, B"}],
        ab_test_share=20,
    )
    plain_times, ab_times, rows = [], [], 0
    for _ in range(options.repeat):
        seconds, rows = snapshot_seconds(plain.pk)
        plain_times.append(seconds)
        seconds, _ = snapshot_seconds(tested.pk)
        ab_times.append(seconds)
    decided_in, decision = decision_seconds(tested.pk)
    clean()
    result = {
        "measured_at": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "machine": f"{platform.node()} ({os.cpu_count()} cores), load average {os.getloadavg()[0]:.1f}",
        "recipients": rows,
        "users_added": added,
        "plain_snapshot_s": [round(value, 3) for value in plain_times],
        "ab_snapshot_s": [round(value, 3) for value in ab_times],
        "plain_median_s": round(statistics.median(plain_times), 3),
        "ab_median_s": round(statistics.median(ab_times), 3),
        "ratio": round(statistics.median(ab_times) / statistics.median(plain_times), 3),
        "decision_s": round(decided_in, 3),
        "decision": {key: decision.get(key) for key in ("winner", "rule", "p_value", "variants")},
    }
    print(
        f"{rows:,} recipients: plain snapshot {result['plain_median_s']} s, A/B snapshot {result['ab_median_s']} s "
        f"(x{result['ratio']}, target <= 1.1); decision {result['decision_s']} s (target < 2 s)"
    )
    answer = json.dumps(result, indent=1, default=str)
    print(answer)
    if options.json_out:
        options.json_out.write_text(answer)


if __name__ == "__main__":
    main()
