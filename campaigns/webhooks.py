"""Brevo's tracking webhook as it enters the project: the receiver of Anymail's `tracking`
signal, and the deploy check that the webhook is authenticated.

Anymail's view (`/anymail/brevo/tracking/`) checks basic auth against ANYMAIL WEBHOOK_SECRET,
parses the JSON and sends the signal; the receiver below only stores the event and points a
worker at it, so the answer to Brevo is a fast 2xx. Processing happens in a job
(`tracking_events_process` in campaigns/jobs.py), and a periodic sweep (config/cron.py) catches
anything the job missed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anymail.signals import AnymailTrackingEvent
from django.conf import settings
from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Error as CheckError

from campaigns.queue import enqueue_tracking_events_process
from campaigns.services.tracking import IncomingEvent, tracking_event_store


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
    enqueue_tracking_events_process()


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
