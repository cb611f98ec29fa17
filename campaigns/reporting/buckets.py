"""Counts over time in the site's time zone, from counts per 15-minute slot.

The database groups timestamps into absolute 15-minute slots (UTC); every time zone in use is
offset from UTC by a whole number of quarter hours, so each slot falls inside exactly one local
hour and one local day. Assigning slots to local hours and days here, with `zoneinfo`, gets
daylight-saving days right: a spring-forward day has 23 hourly buckets, a fall-back day 25 (the
repeated hour appears twice, once per offset), and both are one daily bucket.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

SLOT = timedelta(minutes=15)
HOUR = timedelta(hours=1)


def slot_start(moment: datetime) -> datetime:
    """The UTC start of the 15-minute slot holding `moment`."""
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def local_hour_start(moment: datetime, zone: ZoneInfo) -> datetime:
    """The start (UTC) of the local hour holding `moment`; a repeated hour keeps its own offset."""
    local = moment.astimezone(zone)
    # replace() keeps `fold`, so the second 01:00 of a fall-back night stays the second one.
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


@dataclass(frozen=True)
class Buckets:
    """Zero-filled counts per bucket: `starts` are the buckets' UTC starts, `counts` one list per
    series in the same order."""

    starts: list[datetime]
    counts: dict[str, list[int]]


def hourly(slots: Mapping[str, Mapping[datetime, int]], *, start: datetime, hours: int, zone: ZoneInfo) -> Buckets:
    """`hours` consecutive local hours from the one holding `start`, each series summed per hour."""
    first = local_hour_start(start, zone)
    starts = [first + HOUR * index for index in range(hours)]
    index_of = {moment: index for index, moment in enumerate(starts)}
    counts = {name: [0] * hours for name in slots}
    for name, per_slot in slots.items():
        for moment, count in per_slot.items():
            index = index_of.get(local_hour_start(moment, zone))
            if index is not None:
                counts[name][index] += count
    return Buckets(starts=starts, counts=counts)


def daily(slots: Mapping[str, Mapping[datetime, int]], *, first: date, last: date, zone: ZoneInfo) -> Buckets:
    """Local days from `first` to `last` inclusive, each series summed per day."""
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    index_of = {day: index for index, day in enumerate(days)}
    counts = {name: [0] * len(days) for name in slots}
    for name, per_slot in slots.items():
        for moment, count in per_slot.items():
            index = index_of.get(moment.astimezone(zone).date())
            if index is not None:
                counts[name][index] += count
    starts = [datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC) for day in days]
    return Buckets(starts=starts, counts=counts)


def latest(slots: Mapping[str, Iterable[datetime]]) -> datetime | None:
    """The latest slot of any series (None when all are empty)."""
    moments = [moment for per_slot in slots.values() for moment in per_slot]
    return max(moments) if moments else None
