"""Calendar months for the monthly series the stats endpoints and the dashboard report."""

from __future__ import annotations

from datetime import date, datetime
from typing import TypeVar

Day = TypeVar("Day", date, datetime)


def month_start(moment: datetime) -> datetime:
    """Midnight on the first day of `moment`'s month, in `moment`'s time zone."""
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def months_back(month: Day, count: int) -> Day:
    """The same day `count` months before `month` (a month's first day, date or datetime)."""
    index = month.year * 12 + month.month - 1 - count
    return month.replace(year=index // 12, month=index % 12 + 1)


def months_ending(day: date, count: int) -> list[date]:
    """The first days of the `count` months up to and including `day`'s, oldest first."""
    first = date(day.year, day.month, 1)
    return [months_back(first, back) for back in range(count - 1, -1, -1)]
