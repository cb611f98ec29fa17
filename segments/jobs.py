"""RQ entry points for segments: they take ids, load rows and call one service."""

from __future__ import annotations

from segments.models import SegmentExport
from segments.services.exports import segment_exports_recover, segment_sync_run
from segments.services.snapshots import size_snapshots_take


def segment_sync_job(export_id: int) -> None:
    """Run one Brevo list sync; returns quietly when the export is gone or no longer pending."""
    export = SegmentExport.objects.filter(pk=export_id).first()
    if export is None:
        return
    segment_sync_run(export=export)


def segment_exports_recover_job() -> None:
    """Periodic safety net: fail syncs whose worker died, re-queue those whose job was lost."""
    segment_exports_recover()


def size_snapshots_job() -> dict[str, object]:
    """Hourly: today's size snapshot of the audience and each segment, if not taken yet."""
    taken = size_snapshots_take()
    return {"day": taken.day.isoformat(), "segments": taken.segments, "audience": taken.audience}
