"""Every write to segments. Callers import from here; each concern lives in its own module."""

from segments.services.exports import (
    SegmentSyncInProgressError,
    segment_exports_recover,
    segment_list_delete,
    segment_list_provision,
    segment_list_rename,
    segment_sync_run,
    segment_sync_start,
)
from segments.services.segments import (
    criteria_validate,
    segment_counts_refresh,
    segment_create,
    segment_delete,
    segment_name_validate,
    segment_update,
)
from segments.services.snapshots import SnapshotsTaken, size_snapshots_take

__all__ = [
    "SegmentSyncInProgressError",
    "SnapshotsTaken",
    "criteria_validate",
    "segment_counts_refresh",
    "segment_create",
    "segment_delete",
    "segment_exports_recover",
    "segment_list_delete",
    "segment_list_provision",
    "segment_list_rename",
    "segment_name_validate",
    "segment_sync_run",
    "segment_sync_start",
    "segment_update",
    "size_snapshots_take",
]
