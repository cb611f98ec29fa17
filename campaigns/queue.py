"""Every enqueue of campaign work: one helper per job, the only place a job's path is written.

Jobs are named by their dotted path in `campaigns.jobs`, so this module imports no service:
services, the admin and the webhook receiver all call it. Every helper enqueues when the
current transaction commits (`core.queue.enqueue_after_commit`).
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from redis.exceptions import RedisError

from core.queue import default_queue, enqueue_after_commit

logger = logging.getLogger(__name__)

CAMPAIGN_START = "campaigns.jobs.campaign_start"
CAMPAIGN_START_WHEN_DUE = "campaigns.jobs.campaign_start_when_due"
CAMPAIGN_DECIDE_WINNER = "campaigns.jobs.campaign_decide_winner"
CAMPAIGN_SEND_BATCH = "campaigns.jobs.campaign_send_batch"
CAMPAIGN_RETRY_BATCH = "campaigns.jobs.campaign_retry_batch"
CAMPAIGN_HOLD_NOTICE = "campaigns.jobs.campaign_hold_notify"
TRACKING_EVENTS_PROCESS = "campaigns.jobs.tracking_events_process"
TRACKING_EVENTS_PRUNE = "campaigns.jobs.tracking_events_prune"
CAMPAIGN_REPORT_REFRESH = "campaigns.jobs.campaign_report_refresh"

# Set while a processing job is queued, so a burst of webhooks enqueues one job, not thousands.
# The job clears it before it reads, so an event stored during a run schedules the next run.
# The expiry only matters if Redis lost the job: the flag then frees itself.
PROCESSING_QUEUED_KEY = "campaigns:tracking:processing-queued"
PROCESSING_QUEUED_TTL_SECONDS = 300
# Each web process asks Redis about the flag at most this often: the round trip cost more CPU
# than storing the event. An event stored in between is still processed without waiting for the
# sweep: the job that was queued when the process last asked takes a last look at least this
# long after it started (see `campaigns.jobs.tracking_events_process`).
SCHEDULE_INTERVAL_SECONDS = 1.0
_last_schedule_attempt = -SCHEDULE_INTERVAL_SECONDS


def enqueue_campaign_start(campaign_id: int) -> None:
    """Freeze the audience (once) and start the batch chains."""
    enqueue_after_commit(CAMPAIGN_START, campaign_id)


def enqueue_campaign_start_when_due(campaign_id: int, *, at: datetime) -> None:
    """RQ's scheduler starts the campaign at `at`; `dispatch_due_campaigns` is the safety net."""
    enqueue_after_commit(CAMPAIGN_START_WHEN_DUE, campaign_id, at=at)


def enqueue_campaign_decide_winner(campaign_id: int, *, at: datetime) -> None:
    """RQ's scheduler decides the A/B winner at `at`; `campaigns_decide_due` is the safety net."""
    enqueue_after_commit(CAMPAIGN_DECIDE_WINNER, campaign_id, at=at)


def enqueue_campaign_send_batch(campaign_id: int, *, after_id: int = 0, at: datetime | None = None) -> None:
    """The next batch of a chain, claimed after ledger row `after_id` (at `at`: the pace's wait)."""
    enqueue_after_commit(CAMPAIGN_SEND_BATCH, campaign_id, after_id, at=at)


def enqueue_campaign_hold_notice(campaign_id: int) -> None:
    """Tell the campaign's creator by email that Brevo's refusal paused it."""
    enqueue_after_commit(CAMPAIGN_HOLD_NOTICE, campaign_id)


def enqueue_campaign_retry_batch(
    campaign_id: int, *, batch_key: uuid.UUID, continue_chain: bool, delay: float = 0.0
) -> None:
    """Send a claimed batch again with its key, `delay` seconds from now."""
    enqueue_after_commit(CAMPAIGN_RETRY_BATCH, campaign_id, str(batch_key), continue_chain, delay=delay)


def enqueue_tracking_events_prune(*, after_id: int) -> None:
    """Continue deleting old processed tracking events after event `after_id`."""
    enqueue_after_commit(TRACKING_EVENTS_PRUNE, after_id)


def enqueue_tracking_events_process() -> None:
    """Process stored tracking events soon, unless a processing job is already queued (the flag
    collapses a burst of webhooks into one job). Redis trouble only delays the events: the
    periodic sweep processes them within a minute."""
    transaction.on_commit(_schedule_tracking_processing)


def _schedule_tracking_processing() -> None:
    global _last_schedule_attempt
    now = time.monotonic()
    if now - _last_schedule_attempt < SCHEDULE_INTERVAL_SECONDS:
        return
    _last_schedule_attempt = now
    try:
        queue = default_queue()
        if queue.connection.set(PROCESSING_QUEUED_KEY, "1", nx=True, ex=PROCESSING_QUEUED_TTL_SECONDS):
            queue.enqueue(TRACKING_EVENTS_PROCESS)
    except RedisError:
        logger.warning("Could not enqueue tracking processing", exc_info=True)


def tracking_processing_flag_clear() -> None:
    """Called by the processing job as it starts: events stored from now on schedule a new run."""
    default_queue().connection.delete(PROCESSING_QUEUED_KEY)


# A stale report viewed by several pages is recomputed once: views within this many seconds of
# the last request (in this process) do not enqueue again.
REPORT_REFRESH_COOLDOWN_SECONDS = 30


def enqueue_campaign_report_refresh(campaign_id: int) -> None:
    """Recompute the campaign's stored report soon, unless this process asked for it moments ago."""
    if cache.add(f"campaign-report-refresh:{campaign_id}", 1, REPORT_REFRESH_COOLDOWN_SECONDS):
        enqueue_after_commit(CAMPAIGN_REPORT_REFRESH, campaign_id)
