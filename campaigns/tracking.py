"""Brevo's tracking webhook as it enters the project: Anymail's `tracking` signal, and the jobs
that process what it stored.

Anymail's view (`/anymail/brevo/tracking/`) checks basic auth against ANYMAIL WEBHOOK_SECRET,
parses the JSON and sends the signal; the receiver below only stores the event and points a
worker at it, so the answer to Brevo is a fast 2xx. Processing happens in a job, and a periodic
sweep (config/cron.py) catches anything the job missed.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping
from typing import Any

import django_rq
from anymail.signals import AnymailTrackingEvent
from django.conf import settings
from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Error as CheckError
from django.db import transaction
from redis.exceptions import RedisError
from rq import Queue

from campaigns.services.tracking import (
    IncomingEvent,
    tracking_event_store,
    tracking_events_process_pending,
    tracking_events_retry,
)

logger = logging.getLogger(__name__)

# Set while a processing job is queued, so a burst of webhooks enqueues one job, not thousands.
# The job clears it before it reads, so an event stored during a run schedules the next run.
# The expiry only matters if Redis lost the job: the flag then frees itself.
PROCESSING_QUEUED_KEY = "campaigns:tracking:processing-queued"
PROCESSING_QUEUED_TTL_SECONDS = 300
# Each web process asks Redis about the flag at most this often: the round trip cost more CPU
# than storing the event. An event stored in between is still processed without waiting for the
# sweep: the job that was queued when the process last asked takes a last look at least this
# long after it started (see `process_tracking_events`).
SCHEDULE_INTERVAL_SECONDS = 1.0
_last_schedule_attempt = -SCHEDULE_INTERVAL_SECONDS


def tracking_received(sender: object, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    """Receiver for Anymail's `tracking` signal: store the event, then schedule processing."""
    raw = event.esp_event
    payload = dict(raw) if isinstance(raw, Mapping) else {"raw": str(raw)}
    tracking_event_store(
        event=IncomingEvent(
            event_type=str(event.event_type),
            message_id=event.message_id,
            recipient=event.recipient,
            timestamp=event.timestamp,
            click_url=event.click_url,
            mta_response=event.mta_response,
            payload=payload,
        )
    )
    transaction.on_commit(tracking_processing_schedule)


@functools.cache
def _queue() -> Queue:
    # One queue, so one Redis connection pool, per process: django_rq builds a new client on
    # every call, and opening a connection costs more than the rest of the webhook request.
    return django_rq.get_queue("default", commit_mode="auto")


def tracking_processing_schedule() -> None:
    """Enqueue the processing job unless one is already queued; Redis trouble only delays it."""
    global _last_schedule_attempt
    now = time.monotonic()
    if now - _last_schedule_attempt < SCHEDULE_INTERVAL_SECONDS:
        return
    _last_schedule_attempt = now
    try:
        queue = _queue()
        if queue.connection.set(PROCESSING_QUEUED_KEY, "1", nx=True, ex=PROCESSING_QUEUED_TTL_SECONDS):
            queue.enqueue(process_tracking_events)
    except RedisError:
        # The event is stored; the periodic sweep processes it within a minute.
        logger.warning("Could not enqueue tracking processing", exc_info=True)


def process_tracking_events() -> None:
    """Job: process every stored tracking event that is waiting, then look once more a little later."""
    started = time.monotonic()
    _queue().connection.delete(PROCESSING_QUEUED_KEY)
    result = tracking_events_process_pending()
    # A web process that skipped asking Redis did so within SCHEDULE_INTERVAL_SECONDS of asking,
    # when this job was queued (or already being queued): a look after that interval sees its
    # events. Later events set the flag again, and the job that queues handles them.
    time.sleep(max(0.0, started + SCHEDULE_INTERVAL_SECONDS - time.monotonic()))
    last_look = tracking_events_process_pending()
    logger.info(
        "Tracking events: %d processed, %d unknown message id, %d failed",
        result.processed + last_look.processed,
        result.unmatched + last_look.unmatched,
        result.failed + last_look.failed,
    )


def retry_tracking_events() -> None:
    """Periodic job: events left waiting, and failed or unmatched ones with attempts left."""
    result = tracking_events_retry()
    if result.total:
        logger.info(
            "Tracking sweep: %d processed, %d unknown message id, %d failed",
            result.processed,
            result.unmatched,
            result.failed,
        )


@register(Tags.security, deploy=True)
def check_webhook_secret(**kwargs: Any) -> list[CheckMessage]:
    """Anymail accepts unauthenticated webhooks (with a warning) when no secret is set: refuse."""
    if settings.ANYMAIL.get("WEBHOOK_SECRET"):
        return []
    return [
        CheckError(
            "ANYMAIL['WEBHOOK_SECRET'] is not set, so anyone could post fake Brevo tracking events.",
            hint="Set ANYMAIL_WEBHOOK_SECRET to 'user:password' and use the same in Brevo's webhook URL.",
            id="campaigns.E001",
        )
    ]
