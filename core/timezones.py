"""Time zones named by people's browsers (IANA names such as "Europe/Paris")."""

from __future__ import annotations

import zoneinfo

# Longest IANA zone name is about 30 characters; anything longer is not a zone.
_MAX_NAME = 64


def zone_named(name: str) -> zoneinfo.ZoneInfo | None:
    """The zone for an IANA name; None for anything else (unknown, empty, a path)."""
    if not name or len(name) > _MAX_NAME:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
