"""Calendar months for the monthly series the stats endpoints report."""

from __future__ import annotations

from datetime import date, datetime


def month_start(moment: datetime) -> datetime:
    """Midnight on the first day of `moment`'s month, in `moment`'s time zone."""
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def months_back(month: datetime, count: int) -> datetime:
    """The start of the month `count` months before `month` (a month start)."""
    index = month.year * 12 + month.month - 1 - count
    return month.replace(year=index // 12, month=index % 12 + 1)


def months_ending(month: datetime, count: int) -> list[date]:
    """The `count` months up to and including `month`, oldest first, as first days."""
    return [months_back(month, back).date() for back in range(count - 1, -1, -1)]
