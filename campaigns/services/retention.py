"""Retention: processed tracking events older than TRACKING_EVENT_RETENTION_DAYS are deleted.

A processed event has done its work: the ledger row holds its first times and counts, which
every report and engagement criterion reads. Only the per-link click report reads events
themselves, so a pruned click leaves its count behind in `ClickTally`, in the same transaction.
Events FAILED or UNMATCHED stay: a person may still look at them.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min, QuerySet
from django.utils import timezone

from campaigns.models import ClickTally, TrackingEvent, TrackingEventStatus

# Events deleted per transaction: their rows stay locked for that long (tens of milliseconds),
# never the table, so webhooks keep being stored while a prune runs.
PRUNE_BATCH_SIZE = 2000
# One job stops after this long and queues its continuation, well inside RQ's job timeout.
PRUNE_TIME_BUDGET_SECONDS = 120.0


@dataclass
class PruneResult:
    deleted: int = 0
    # The id the next run continues after; None when nothing old is left.
    resume_after: int | None = None


def retention_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.TRACKING_EVENT_RETENTION_DAYS)


def tracking_events_prune(*, before: datetime, after_id: int = 0) -> PruneResult:
    """Delete processed events received before `before`, batch after batch, from `after_id` on,
    for about PRUNE_TIME_BUDGET_SECONDS (at least one batch). Safe to run twice at once: rows
    another run holds are skipped, and a tally written twice would break a unique constraint
    and roll back its batch."""
    result = PruneResult()
    last_old_id = _last_id_received_before(before)
    started = time.monotonic()
    while after_id < last_old_id:
        with transaction.atomic():
            events = list(
                TrackingEvent.objects.filter(
                    id__gt=after_id,
                    id__lte=last_old_id,
                    status=TrackingEventStatus.PROCESSED,
                    received_at__lt=before,
                )
                .order_by("id")
                .select_for_update(skip_locked=True)
                .values_list("id", "esp_event", "campaign_id", "recipient_id", "link")[:PRUNE_BATCH_SIZE]
            )
            if not events:
                break
            result.deleted += _delete_keeping_clicks(events)
        after_id = events[-1][0]
        if after_id < last_old_id and time.monotonic() - started > PRUNE_TIME_BUDGET_SECONDS:
            result.resume_after = after_id
            break
    return result


def _last_id_received_before(moment: datetime) -> int:
    """The id of the last event received before `moment` (0 if none).

    Ids grow with arrival, so the id range is bisected with a few dozen primary-key lookups;
    filtering on `received_at` would read every recent event, the table's bulk, on each run.
    """
    bounds = TrackingEvent.objects.aggregate(low=Min("id"), high=Max("id"))
    if bounds["low"] is None:
        return 0
    # Invariant: the answer is in [low, high); `low` is an old event or "none" (0).
    low, high = bounds["low"] - 1, bounds["high"] + 1
    while high - low > 1:
        middle = (low + high) // 2
        event = TrackingEvent.objects.filter(id__gte=middle, id__lt=high).order_by("id").only("received_at").first()
        if event is None:
            high = middle
        elif event.received_at < moment:
            low = event.pk
        else:
            high = event.pk
    return max(low, 0)


def tracking_events_delete(events: QuerySet[TrackingEvent]) -> int:
    """Delete these events (erasure), their clicks kept in the tallies; returns how many."""
    with transaction.atomic():
        rows = list(
            events.order_by("id")
            .select_for_update()
            .values_list("id", "esp_event", "campaign_id", "recipient_id", "link")
        )
        return _delete_keeping_clicks(rows)


def _delete_keeping_clicks(events: Sequence[tuple[int, str, int | None, int | None, str]]) -> int:
    _tally_clicks(
        Counter(
            (campaign_id, recipient_id, link)
            for _, esp_event, campaign_id, recipient_id, link in events
            if esp_event == "click" and recipient_id is not None and campaign_id is not None
        )
    )
    return TrackingEvent.objects.filter(id__in=[event[0] for event in events]).delete()[0]


def _tally_clicks(clicks: Counter[tuple[int, int, str]]) -> None:
    """Add pruned clicks to the tallies, one row per recipient and link."""
    if not clicks:
        return
    wanted = {
        (recipient_id, _hash(link)): (campaign_id, link, count)
        for (campaign_id, recipient_id, link), count in clicks.items()
    }
    existing = {
        (tally.recipient_id, tally.link_hash): tally
        for tally in ClickTally.objects.select_for_update().filter(
            recipient_id__in={recipient_id for recipient_id, _ in wanted},
            link_hash__in={link_hash for _, link_hash in wanted},
        )
    }
    for key, tally in existing.items():
        if key in wanted:
            tally.clicks += wanted[key][2]
    ClickTally.objects.bulk_update([tally for key, tally in existing.items() if key in wanted], ["clicks"])
    ClickTally.objects.bulk_create(
        ClickTally(campaign_id=campaign_id, recipient_id=recipient_id, link=link, link_hash=link_hash, clicks=count)
        for (recipient_id, link_hash), (campaign_id, link, count) in wanted.items()
        if (recipient_id, link_hash) not in existing
    )


def _hash(link: str) -> str:
    return hashlib.sha256(link.encode()).hexdigest()
