"""Every enqueue of segment work: one helper per job, the only place a job's path is written.

Jobs are named by their dotted path in `segments.jobs`, so this module imports no service.
Every helper enqueues when the current transaction commits (`core.queue.enqueue_after_commit`).
"""

from __future__ import annotations

from rq.job import Job

from core.queue import default_queue, enqueue_after_commit

SEGMENT_SYNC = "segments.jobs.segment_sync_job"

# RQ kills a job after this long; a sync of a million users takes minutes, not hours.
SYNC_JOB_TIMEOUT = 2 * 60 * 60


def _sync_job_id(export_id: int) -> str:
    return f"segment-export-{export_id}"


def enqueue_segment_sync(export_id: int) -> None:
    """Run the Brevo list sync of this export. The job id is the export's, so the recovery sweep
    can tell whether the job still exists."""
    enqueue_after_commit(SEGMENT_SYNC, export_id, job_id=_sync_job_id(export_id), job_timeout=SYNC_JOB_TIMEOUT)


def segment_sync_queued_job(export_id: int) -> Job | None:
    """The queue's job for this export's sync, if Redis still has it."""
    return default_queue().fetch_job(_sync_job_id(export_id))
