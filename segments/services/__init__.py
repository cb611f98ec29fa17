"""Every write to segments. Callers import from here; each concern lives in its own module."""

from segments.services.segments import (
    criteria_validate,
    segment_counts_refresh,
    segment_create,
    segment_delete,
    segment_name_validate,
    segment_update,
)

__all__ = [
    "criteria_validate",
    "segment_counts_refresh",
    "segment_create",
    "segment_delete",
    "segment_name_validate",
    "segment_update",
]
