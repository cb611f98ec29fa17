"""What the engagement criteria cost tracking: processing stored Brevo events with and without
the summary triggers (campaigns migrations 0013 and 0017; the criteria need no index of the
ledger since 0017), in the same run, on the seeded database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/audience_perf python -m bench.tracking

Each round, in a transaction rolled back at its end (the database is left as it was): a campaign
just sent to `--recipients` people (ledger rows SENT, as sending leaves them), Brevo's events
for it stored through the intake service (delivered for all, a fifth opened by a person, a third
by a machine, 4 % clicks, some repeat opens), then `tracking_events_process_pending` timed, the
service the processing job runs. Rounds "without" first drop the three triggers inside that
transaction. Rounds alternate, so both see the same machine; the
median of each is reported, with the slowdown. Commit time is left out of both (the transaction
is rolled back), so the ratio is that of the work done.

BENCH_JSON_OUT names a file for the JSON `bench.targets` reads.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("DEBUG", "false")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus  # noqa: E402
from campaigns.services.tracking import tracking_events_process_pending  # noqa: E402
from campaigns.services.tracking_intake import IncomingEvent, tracking_events_store  # noqa: E402

ENGAGEMENT_TRIGGERS = ("campaigns_engagement_insert", "campaigns_engagement_update", "campaigns_engagement_delete")
LINKS = [f"https://example.com/offer/{number}" for number in range(8)]


def event(kind: str, email: str, message_id: str, when: datetime, link: str | None = None) -> IncomingEvent:
    payload: dict[str, Any] = {"event": kind, "email": email, "message-id": message_id}
    payload["ts_epoch"] = int(when.timestamp() * 1000)
    if link:
        payload["link"] = link
    return IncomingEvent(
        event_type="opened" if "open" in kind else ("clicked" if kind == "click" else kind),
        message_id=message_id,
        recipient=email,
        timestamp=when,
        click_url=link,
        mta_response=None,
        payload=payload,
    )


def events_for(rows: list[tuple[str, str]], rng: random.Random) -> list[IncomingEvent]:
    """A campaign's tracking traffic for (email, message id) pairs: the kinds the service treats
    differently, in the proportions of the seeded history."""
    start = timezone.now() - timedelta(minutes=30)
    events = []
    for number, (email, message_id) in enumerate(rows):
        at = start + timedelta(milliseconds=number)

        def add(kind: str, delay: float, link: str | None = None, email: str = email, message_id: str = message_id,
                at: datetime = at) -> None:  # fmt: skip
            events.append(event(kind, email, message_id, at + timedelta(seconds=delay), link))

        add("delivered", 5)
        if rng.random() < 0.35:
            add("unique_proxy_open", 60)
        if rng.random() < 0.22:
            add("unique_opened", 300)
            if rng.random() < 0.3:
                add("opened", 900)
            if rng.random() < 0.18:
                add("click", 320, rng.choice(LINKS))
    return events


def one_round(*, without: bool, recipients: int, seed: int, admin: User) -> dict[str, float]:
    rng = random.Random(seed)
    with transaction.atomic():
        if without:
            with connection.cursor() as cursor:
                for name in ENGAGEMENT_TRIGGERS:
                    cursor.execute(f"DROP TRIGGER {name} ON campaigns_campaignrecipient")
        now = timezone.now()
        campaign = Campaign.objects.create(
            name=f"Bench tracking {seed}", subject="Bench", body_html="<p>Bench</p>", created_by=admin,
            status=CampaignStatus.SENT, started_at=now, sent_at=now, audience_frozen_at=now,
        )  # fmt: skip
        with connection.cursor() as cursor:
            # Reachable people in a random spread over the table, as a campaign's audience is.
            cursor.execute(
                f"INSERT INTO {CampaignRecipient._meta.db_table} (campaign_id, user_id, email, first_name, last_name, "
                "status, message_id, attempts, last_error, sent_at, open_count, machine_open_count, click_count) "
                "SELECT %s, id, email, first_name, last_name, 'SENT', "
                "'<bench-' || %s || '-' || id || '@smtp-relay.mailin.fr>', 1, '', now(), 0, 0, 0 "
                "FROM accounts_user WHERE reachable AND hashint8(id + %s) %% 40 = 0 ORDER BY id LIMIT %s",
                [campaign.pk, seed, seed, recipients],
            )
            cursor.execute(
                f"SELECT email, message_id FROM {CampaignRecipient._meta.db_table} WHERE campaign_id = %s",
                [campaign.pk],
            )
            rows = cursor.fetchall()
        events = events_for(rows, rng)
        for start in range(0, len(events), 500):
            tracking_events_store(events=events[start : start + 500])
        started = time.perf_counter()
        result = tracking_events_process_pending()
        elapsed = time.perf_counter() - started
        if result.processed != len(events):
            raise SystemExit(f"processed {result.processed} of {len(events)} events")
        transaction.set_rollback(True)
    return {"events": len(events), "seconds": elapsed, "events_per_second": len(events) / elapsed}


def measure(*, recipients: int, rounds: int) -> dict[str, Any]:
    admin = User.objects.filter(is_superuser=True).order_by("pk").first()
    if admin is None:
        raise SystemExit("no superuser: seed the database with seed_demo first")
    runs: dict[str, list[dict[str, float]]] = {"with": [], "without": []}
    one_round(without=False, recipients=recipients, seed=999, admin=admin)  # warm-up
    for number in range(rounds):
        # Alternate which goes first, so neither always follows the other.
        order = ("with", "without") if number % 2 == 0 else ("without", "with")
        for kind in order:
            seed = number * 2 + (kind == "with")
            run = one_round(without=kind == "without", recipients=recipients, seed=seed, admin=admin)
            runs[kind].append(run)
            print(f"  {kind:<7} {run['events']:,} events in {run['seconds']:.2f} s", flush=True)
    median = {kind: statistics.median(run["events_per_second"] for run in found) for kind, found in runs.items()}
    return {
        "recipients": recipients,
        "events": runs["with"][0]["events"],
        "rounds": rounds,
        "with_events_per_second": median["with"],
        "without_events_per_second": median["without"],
        "slowdown": median["without"] / median["with"] - 1,
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each kind (alternating)")
    args = parser.parse_args()
    result = measure(recipients=args.recipients, rounds=args.rounds)
    print(
        f"with the engagement summary's triggers: {result['with_events_per_second']:,.0f} events/s; "
        f"without: {result['without_events_per_second']:,.0f} events/s; slowdown {result['slowdown']:+.1%}"
    )
    if os.environ.get("BENCH_JSON_OUT"):
        Path(os.environ["BENCH_JSON_OUT"]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
