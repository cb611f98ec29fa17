"""Bucketing in the site's time zone: slots to local hours and days, daylight-saving days included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from campaigns.reporting import buckets

LONDON = ZoneInfo("Europe/London")
KOLKATA = ZoneInfo("Asia/Kolkata")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_a_slot_starts_on_the_quarter_hour():
    assert buckets.slot_start(utc(2026, 6, 1, 10, 44, 59)) == utc(2026, 6, 1, 10, 30)
    assert buckets.slot_start(datetime(2026, 6, 1, 11, 5, tzinfo=LONDON)) == utc(2026, 6, 1, 10, 0)


def test_spring_forward_day_has_23_hours_and_one_daily_bucket():
    # 29 March 2026: London clocks go from 01:00 GMT to 02:00 BST.
    day_start = datetime(2026, 3, 29, tzinfo=LONDON).astimezone(UTC)
    slots = {"opened": {buckets.slot_start(day_start + timedelta(minutes=15 * n)): 1 for n in range(23 * 4)}}

    hours = buckets.hourly(slots, start=day_start, hours=23, zone=LONDON)
    days = buckets.daily(slots, first=date(2026, 3, 29), last=date(2026, 3, 30), zone=LONDON)

    local_hours = [moment.astimezone(LONDON).hour for moment in hours.starts]
    assert local_hours == [0, *range(2, 24)]  # no 01:00
    assert hours.counts["opened"] == [4] * 23
    assert days.counts["opened"] == [92, 0]
    assert days.starts == [utc(2026, 3, 29, 0), utc(2026, 3, 29, 23)]


def test_fall_back_day_has_25_hours_the_repeated_one_twice():
    # 25 October 2026: London clocks go from 02:00 BST back to 01:00 GMT.
    day_start = datetime(2026, 10, 25, tzinfo=LONDON)
    first_one = utc(2026, 10, 25, 0, 10)  # 01:10 BST
    second_one = utc(2026, 10, 25, 1, 10)  # 01:10 GMT
    slots = {"clicked": {buckets.slot_start(first_one): 2, buckets.slot_start(second_one): 5}}

    hours = buckets.hourly(slots, start=day_start, hours=25, zone=LONDON)
    days = buckets.daily(slots, first=date(2026, 10, 25), last=date(2026, 10, 25), zone=LONDON)

    local = [(moment.astimezone(LONDON).hour, moment.astimezone(LONDON).tzname()) for moment in hours.starts]
    assert local[:4] == [(0, "BST"), (1, "BST"), (1, "GMT"), (2, "GMT")]
    assert hours.counts["clicked"][1:3] == [2, 5]
    assert days.counts["clicked"] == [7]
    assert len(hours.starts) == 25
    assert hours.starts[-1].astimezone(LONDON).hour == 23


def test_half_hour_zones_cut_hours_and_days_at_their_own_midnight():
    # Kolkata is UTC+05:30: 18:30 UTC is local midnight.
    slots = {"opened": {utc(2026, 6, 1, 18, 15): 1, utc(2026, 6, 1, 18, 30): 10, utc(2026, 6, 1, 19, 15): 100}}

    hours = buckets.hourly(slots, start=utc(2026, 6, 1, 18, 0), hours=3, zone=KOLKATA)
    days = buckets.daily(slots, first=date(2026, 6, 1), last=date(2026, 6, 2), zone=KOLKATA)

    assert [moment.astimezone(KOLKATA).strftime("%H:%M") for moment in hours.starts] == ["23:00", "00:00", "01:00"]
    assert hours.counts["opened"] == [1, 110, 0]
    assert days.counts["opened"] == [1, 110]


def test_counts_outside_the_range_are_left_out_and_the_latest_slot_is_found():
    slots = {"opened": {utc(2026, 1, 1, 9): 3, utc(2026, 1, 9, 9): 4}, "clicked": {}}

    hours = buckets.hourly(slots, start=utc(2026, 1, 1, 9), hours=2, zone=ZoneInfo("UTC"))

    assert hours.counts == {"opened": [3, 0], "clicked": [0, 0]}
    assert buckets.latest(slots) == utc(2026, 1, 9, 9)
    assert buckets.latest({"opened": {}}) is None
