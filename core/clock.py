"""The time the sending pace reads: caps' hourly and daily windows, quiet hours, waits.

`settings.SENDING_CLOCK` names the function (by default Django's `timezone.now`). The one other
value worth giving it is a controllable clock, so tests can move several worker processes to the
next hour together without waiting for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string


@lru_cache(maxsize=4)
def _clock(path: str) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = import_string(path)
    return clock


def now() -> datetime:
    """The current time as the pace sees it (timezone-aware)."""
    return _clock(settings.SENDING_CLOCK)()
