"""Times in the staff member's own time zone.

The admin's script (static/staff/staff.js) stores the browser's IANA zone name in a cookie;
with it, every datetime the admin shows or reads (schedules, sent times, datetime inputs) is in
that zone, as Django's time zone documentation suggests. Without it (the first page ever,
scripts off) TIME_ZONE rules.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from core.timezones import zone_named

COOKIE = "staff_tz"


class StaffTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = zone_named(unquote(request.COOKIES.get(COOKIE, "")))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        return self.get_response(request)
