"""RQ entry points for campaigns: each takes ids, loads nothing itself, calls one service.

Every job may run twice, late, or after its campaign changed: the services re-read the
database and do only what is still to do. They are enqueued only through `campaigns.queue`.
"""

from __future__ import annotations

import logging
import time
import uuid

from campaigns import queue
from campaigns.services import ab_tests, lifecycle, notices, reports, retention, sending, tracking

logger = logging.getLogger(__name__)


def campaign_start(campaign_id: int) -> int:
    """Freeze the audience (once) and start the batch chains of a SENDING campaign."""
    return sending.campaign_start(campaign_id=campaign_id)


def campaign_start_when_due(campaign_id: int) -> bool:
    """Fired by RQ's scheduler at `scheduled_at`: start the campaign if it is still due."""
    return lifecycle.campaign_start_when_due(campaign_id=campaign_id)


def campaign_decide_winner(campaign_id: int) -> bool:
    """Fired by RQ's scheduler at `ab_decide_at`: decide the A/B winner if still waiting for it."""
    return ab_tests.campaign_decide_winner(campaign_id=campaign_id)


def campaigns_decide_due() -> list[int]:
    """Every minute: decide A/B winners whose wait is over (RQ's scheduler may have lost the job);
    returns the ids decided."""
    return ab_tests.campaigns_decide_due()


def campaign_send_batch(campaign_id: int, after_id: int = 0) -> int | None:
    """Claim and send one batch, then enqueue the next job of the chain."""
    return sending.campaign_send_batch(campaign_id=campaign_id, after_id=after_id)


def campaign_retry_batch(campaign_id: int, batch_key: str, continue_chain: bool = False) -> int:
    """Send a claimed batch again with its original idempotency key (or mark it UNKNOWN)."""
    return sending.campaign_retry_batch(
        campaign_id=campaign_id, batch_key=uuid.UUID(batch_key), continue_chain=continue_chain
    )


def campaign_hold_notify(campaign_id: int) -> bool:
    """Email the creator of a campaign that Brevo's refusal paused."""
    return notices.campaign_hold_notify(campaign_id=campaign_id)


def campaigns_watchdog() -> dict[str, object]:
    """Every minute: retry stuck batches, restart campaigns whose jobs vanished, finish done ones."""
    report = sending.campaigns_watchdog()
    return {
        "retried_batches": report.retried_batches,
        "unknown_recipients": report.unknown_recipients,
        "restarted_campaigns": report.restarted_campaigns,
        "finished_campaigns": report.finished_campaigns,
    }


def campaigns_dispatch_due() -> list[int]:
    """Every minute: start SCHEDULED campaigns whose time has passed (RQ's scheduler may have
    lost the job); returns the ids started."""
    return lifecycle.campaigns_dispatch_due()


def tracking_events_process() -> None:
    """Process every stored tracking event that is waiting, then look once more a little later."""
    started = time.monotonic()
    queue.tracking_processing_flag_clear()
    result = tracking.tracking_events_process_pending()
    # A web process that skipped asking Redis did so within SCHEDULE_INTERVAL_SECONDS of asking,
    # when this job was queued (or already being queued): a look after that interval sees its
    # events. Later events set the flag again, and the job that queues handles them.
    time.sleep(max(0.0, started + queue.SCHEDULE_INTERVAL_SECONDS - time.monotonic()))
    result.add(tracking.tracking_events_process_pending())
    # One line per burst of webhooks, naming the campaigns it reached.
    logger.info(
        "Tracking events: %d processed, %d unknown message id, %d failed; campaigns %s",
        result.processed,
        result.unmatched,
        result.failed,
        sorted(result.campaign_ids),
        extra=result.log_fields(),
    )


def tracking_events_retry() -> None:
    """Every minute: events left waiting, and failed or unmatched ones with attempts left."""
    result = tracking.tracking_events_retry()
    if result.total:
        logger.info(
            "Tracking sweep: %d processed, %d unknown message id, %d failed; campaigns %s",
            result.processed,
            result.unmatched,
            result.failed,
            sorted(result.campaign_ids),
            extra=result.log_fields(),
        )


def tracking_events_prune(after_id: int = 0) -> int:
    """Periodic (and its own continuation): delete processed tracking events older than the
    retention period, in short batches; returns how many were deleted."""
    result = retention.tracking_events_prune(before=retention.retention_cutoff(), after_id=after_id)
    if result.resume_after is not None:
        queue.enqueue_tracking_events_prune(after_id=result.resume_after)
    if result.deleted:
        logger.info(
            "Tracking retention: %d events deleted%s",
            result.deleted,
            "; continuing" if result.resume_after is not None else "",
            extra={"deleted": result.deleted, "resume_after": result.resume_after},
        )
    return result.deleted


def campaign_report_refresh(campaign_id: int) -> bool:
    """Recompute a campaign's stored report (charts, funnel, domains, links)."""
    return reports.campaign_report_refresh(campaign_id=campaign_id) is not None


def campaign_reports_refresh_due() -> list[int]:
    """Every five minutes: recompute the most overdue reports, so the dashboard's rates stay fresh."""
    return reports.campaign_reports_refresh_due()
