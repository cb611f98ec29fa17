"""Daily size snapshots: each saved segment's counts and the whole audience's, one row per day
(in the site's time zone), so staff can see how audiences moved.

The periodic job runs hourly (`segments.jobs.size_snapshots_job`). The first run of a day
takes the day's rows; later runs find them and do nothing. A run interrupted halfway is
finished by the next one: each row is written as soon as it is counted, and a unique
(segment, day) / (day) constraint with ON CONFLICT DO NOTHING keeps one row per day even when
two runs race.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Suppression, User
from segments.models import AudienceSnapshot, Segment, SegmentSnapshot
from segments.selectors import reachable_condition
from segments.services.segments import segment_counts_refresh


@dataclass(frozen=True)
class SnapshotsTaken:
    day: date
    segments: int
    audience: bool


def _audience_snapshot_take(day: date) -> bool:
    if AudienceSnapshot.objects.filter(day=day).exists():
        return False
    suppressed = Suppression.objects.filter(email=Lower(OuterRef("email")))
    # One pass over the users, each number an aggregate FILTER.
    counts = User.objects.aggregate(
        users=Count("pk"),
        reachable=Count("pk", filter=reachable_condition()),
        opted_out=Count("pk", filter=Q(email_opted_out_at__isnull=False)),
        suppressed=Count("pk", filter=Q(Exists(suppressed))),
    )
    created = AudienceSnapshot.objects.bulk_create([AudienceSnapshot(day=day, **counts)], ignore_conflicts=True)
    return bool(created)


def size_snapshots_take(*, day: date | None = None) -> SnapshotsTaken:
    """Take today's snapshot of the audience and of every saved segment not snapshotted yet;
    the segments' cached counts are refreshed on the way (same numbers, same query)."""
    day = day or timezone.localdate(timezone=timezone.get_default_timezone())
    audience = _audience_snapshot_take(day)
    done = SegmentSnapshot.objects.filter(day=day).values("segment_id")
    taken = 0
    for segment in list(Segment.objects.exclude(pk__in=done).order_by("pk")):
        segment = segment_counts_refresh(segment=segment)
        snapshot = SegmentSnapshot(
            segment=segment,
            day=day,
            matching=segment.matching_count or 0,
            reachable=segment.reachable_count or 0,
        )
        taken += len(SegmentSnapshot.objects.bulk_create([snapshot], ignore_conflicts=True))
    return SnapshotsTaken(day=day, segments=taken, audience=audience)
