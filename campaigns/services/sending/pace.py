"""The sending pace: caps on messages per hour and per day across every campaign, and quiet hours,
decided where a batch is claimed.

The budget lives in the database (`SendingBudget`, one row per clock hour and per day in the
site's time zone), and a claim locks its window's rows in the claim's own transaction: workers
on several machines spend one budget and never both take its last messages. A claim gets at
most what is left; with nothing left, or inside quiet hours, the campaign stays SENDING and
waits (`waiting_until`, `waiting_for`), and its batch jobs come back at that time by themselves
(the watchdog restarts them if Redis lost them). Windows are fixed (14:00-15:00, midnight to
midnight), so "until 14:00" is a time staff can read; messages refused afterwards (an invalid
address, Brevo's refusal) are given back to the window they were claimed in.

The time is `core.clock.now()`, so tests can move every worker to the next hour at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import F, Q
from django.utils import timezone

from campaigns.models import SendingBudget, SendingPace, SendingWindow

HOURLY_CAP = "the hourly cap"
DAILY_CAP = "the daily cap"
QUIET_HOURS = "quiet hours"
_QUIET = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class PaceRules:
    max_per_hour: int
    max_per_day: int
    quiet_hours: tuple[time, time] | None


@dataclass(frozen=True)
class Allowance:
    """What one claim may take: `count` messages, spent in `windows` (hour start, day start); or
    nothing until `wait_until`, waiting for `waiting_for`."""

    count: int
    windows: tuple[datetime, datetime]
    wait_until: datetime | None = None
    waiting_for: str = ""


def parse_quiet_hours(text: str) -> tuple[time, time] | None:
    """ "21:00-08:00" as (start, end); empty text: no quiet hours."""
    if not text.strip():
        return None
    found = _QUIET.match(text)
    if found is None:
        raise ImproperlyConfigured(f"SENDING_QUIET_HOURS must look like 21:00-08:00, not {text!r}.")
    hour_from, minute_from, hour_until, minute_until = (int(part) for part in found.groups())
    try:
        return time(hour_from, minute_from), time(hour_until, minute_until)
    except ValueError as error:
        raise ImproperlyConfigured(f"SENDING_QUIET_HOURS has an impossible time: {text!r}.") from error


def pace_rules() -> PaceRules:
    """The caps and quiet hours in force: the admin's row where it sets them, else the environment."""
    row = SendingPace.objects.filter(pk=1).first()
    per_hour = row.max_per_hour if row is not None and row.max_per_hour is not None else None
    per_day = row.max_per_day if row is not None and row.max_per_day is not None else None
    quiet = None
    if row is not None and row.quiet_from is not None and row.quiet_until is not None:
        quiet = (row.quiet_from, row.quiet_until)
    return PaceRules(
        max_per_hour=settings.SENDING_MAX_PER_HOUR if per_hour is None else per_hour,
        max_per_day=settings.SENDING_MAX_PER_DAY if per_day is None else per_day,
        quiet_hours=quiet if quiet is not None else parse_quiet_hours(settings.SENDING_QUIET_HOURS),
    )


def pace_windows(now: datetime) -> tuple[datetime, datetime]:
    """The starts of the clock hour and of the day (site time zone) that `now` falls in."""
    local = timezone.localtime(now, timezone.get_default_timezone())
    return local.replace(minute=0, second=0, microsecond=0), local.replace(hour=0, minute=0, second=0, microsecond=0)


def _hour_end(hour_start: datetime) -> datetime:
    # In UTC: adding an hour to a local time is wall-clock arithmetic, wrong across a DST change.
    return (hour_start.astimezone(UTC) + timedelta(hours=1)).astimezone(hour_start.tzinfo)


def _day_end(day_start: datetime) -> datetime:
    zone = timezone.get_default_timezone()
    return timezone.make_aware(datetime.combine(day_start.date() + timedelta(days=1), time(0)), zone)


def quiet_until(now: datetime, quiet_hours: tuple[time, time] | None) -> datetime | None:
    """When the quiet hours around `now` end, or None outside them (site time zone)."""
    if quiet_hours is None:
        return None
    start, end = quiet_hours
    zone = timezone.get_default_timezone()
    local = timezone.localtime(now, zone)
    clock = local.time().replace(tzinfo=None)
    if start == end:
        return None
    if start < end:
        inside, end_day = start <= clock < end, local.date()
    else:  # across midnight, e.g. 21:00-08:00
        inside = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    return timezone.make_aware(datetime.combine(end_day, end), zone) if inside else None


def _window_rows(windows: tuple[datetime, datetime]) -> Q:
    hour_start, day_start = windows
    return Q(window=SendingWindow.HOUR, starts_at=hour_start) | Q(window=SendingWindow.DAY, starts_at=day_start)


def _locked_budget(windows: tuple[datetime, datetime]) -> dict[str, int]:
    """The hour's and the day's `used`, their rows locked until the claim commits (one query)."""
    rows = _select_budget(windows)
    if len(rows) < 2:
        # A window's first claim makes its row; a racing claimer's insert is ignored, then both lock.
        hour_start, day_start = windows
        SendingBudget.objects.bulk_create(
            [
                SendingBudget(window=SendingWindow.HOUR, starts_at=hour_start),
                SendingBudget(window=SendingWindow.DAY, starts_at=day_start),
            ],
            ignore_conflicts=True,
        )
        rows = _select_budget(windows)
    return rows


def _select_budget(windows: tuple[datetime, datetime]) -> dict[str, int]:
    # Ordered, so every claimer locks the two rows in the same order (DAY, then HOUR): no deadlock.
    locked = SendingBudget.objects.select_for_update().filter(_window_rows(windows)).order_by("window")
    return dict(locked.values_list("window", "used"))


def pace_allow(*, want: int, now: datetime) -> Allowance:
    """How many of `want` messages a claim may take now. Call it inside the claim's transaction:
    it locks the budget rows of the current hour and day until the claim commits."""
    rules = pace_rules()
    windows = pace_windows(now)
    until = quiet_until(now, rules.quiet_hours)
    if until is not None:
        return Allowance(0, windows, wait_until=until, waiting_for=QUIET_HOURS)
    used = _locked_budget(windows)
    left = want
    wait: tuple[datetime, str] | None = None
    if rules.max_per_hour:
        left_hour = rules.max_per_hour - used.get(SendingWindow.HOUR, 0)
        left = min(left, left_hour)
        if left_hour <= 0:
            wait = (_hour_end(windows[0]), HOURLY_CAP)
    if rules.max_per_day:
        left_day = rules.max_per_day - used.get(SendingWindow.DAY, 0)
        left = min(left, left_day)
        if left_day <= 0:
            # The day's end comes after the hour's: waiting for the hour would only wait again.
            wait = (_day_end(windows[1]), DAILY_CAP)
    if wait is not None:
        return Allowance(0, windows, wait_until=wait[0], waiting_for=wait[1])
    return Allowance(max(left, 0), windows)


def pace_spend(*, windows: tuple[datetime, datetime], count: int) -> None:
    """Count `count` claimed messages in their hour and day (rows locked by `pace_allow`)."""
    if count:
        SendingBudget.objects.filter(_window_rows(windows)).update(used=F("used") + count)


def pace_refund(*, windows: tuple[datetime, datetime] | None, count: int) -> None:
    """Give back messages claimed in `windows` that will not be sent (refused, released)."""
    if not count or windows is None:
        return
    hour_start, day_start = windows
    # One row per statement, day first: a refund outside a claim never holds one row while it
    # waits for the other, so it cannot deadlock with a claim holding both.
    SendingBudget.objects.filter(window=SendingWindow.DAY, starts_at=day_start).update(used=F("used") - count)
    SendingBudget.objects.filter(window=SendingWindow.HOUR, starts_at=hour_start).update(used=F("used") - count)
