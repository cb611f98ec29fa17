"""Brevo's tracking webhook as it enters the project: the view at `/anymail/brevo/tracking/`,
and the deploy check that the webhook is authenticated.

Brevo posts one event per request, or, for a webhook created with `batched: true`, a JSON array
of up to 500 events (https://developers.brevo.com/docs/batch-webhooks); both come to the same
URL. Anymail's view parses only the first form and answers each request after sending its
`tracking` signal once per event, with a 500 when a receiver fails. Brevo's retry mechanism
(https://developers.brevo.com/docs/retry-mechanism) discards a delivery answered with any 5xx
or any 4xx but 429, so this view keeps Anymail's basic auth and its reading of each event, and
replaces the rest: every event of the request is stored in one statement before the answer,
and a request whose events could not be stored is answered 429, which Brevo retries (after
10 min, 1 h, 2 h and 8 h). Processing happens in a job (`tracking_events_process` in
campaigns/jobs.py); a periodic sweep (config/cron.py) catches anything the job missed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from anymail.signals import AnymailTrackingEvent
from anymail.webhooks.brevo import BrevoTrackingWebhookView
from django.conf import settings
from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Error as CheckError
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from campaigns.queue import enqueue_tracking_events_process
from campaigns.services.tracking_intake import IncomingEvent, tracking_events_store

logger = logging.getLogger(__name__)

# A batch of 500 events is a few hundred KB; this bounds what one request may make us hold in
# memory. Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) is not applied here: a 400 would make
# Brevo discard a whole batch.
MAX_BODY_BYTES = 32 * 1024 * 1024


class WebhookPayloadError(ValueError):
    """The body is not what Brevo sends: a JSON event object, or an array of them."""


def brevo_payloads(body: bytes) -> list[dict[str, Any]]:
    """The events of one delivery: a single JSON object, or a JSON array of objects (batched)."""
    try:
        decoded = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise WebhookPayloadError(f"The body is not JSON: {error}.") from error
    payloads = decoded if isinstance(decoded, list) else [decoded]
    for position, payload in enumerate(payloads):
        if not isinstance(payload, Mapping):
            where = f"Event {position} of the batch" if isinstance(decoded, list) else "The body"
            raise WebhookPayloadError(f"{where} is not a JSON object.")
        if "items" in payload:
            raise WebhookPayloadError(
                "This is an inbound-email payload; Brevo's inbound webhook must not point at the tracking URL."
            )
    return [dict(payload) for payload in payloads]


def incoming_event(view: BrevoTrackingWebhookView, payload: dict[str, Any]) -> IncomingEvent:
    """Anymail's reading of one Brevo event, with the payload kept whole. An event Anymail cannot
    read (a field of an unexpected type) is still stored, as "unknown", for a person to look at:
    refusing it would make Brevo discard the whole batch."""
    try:
        event: AnymailTrackingEvent = view.esp_to_anymail_event(payload)
    except Exception:  # whatever Anymail trips on, the raw payload is still worth keeping
        logger.warning("Brevo tracking event Anymail cannot read, stored as unknown: %r", payload)
        return IncomingEvent(
            event_type="unknown",
            message_id=_text(payload.get("message-id")),
            recipient=_text(payload.get("email")),
            timestamp=None,
            click_url=None,
            mta_response=None,
            payload=payload,
        )
    return IncomingEvent(
        event_type=str(event.event_type),
        message_id=_text(event.message_id),
        recipient=_text(event.recipient),
        timestamp=event.timestamp,
        click_url=_text(event.click_url),
        mta_response=_text(event.mta_response),
        payload=payload,
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class BrevoTrackingWebhook(BrevoTrackingWebhookView):
    """Single and batched Brevo tracking events: stored before the answer, 429 when they cannot be."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Basic auth against ANYMAIL WEBHOOK_SECRET; a failure is Anymail's 400.
        self.run_validators(request)
        try:
            payloads = brevo_payloads(request.read(MAX_BODY_BYTES))
        except WebhookPayloadError as error:
            return JsonResponse({"detail": str(error)}, status=400)
        events = [incoming_event(self, payload) for payload in payloads]
        try:
            stored = tracking_events_store(events=events)
        except Exception:
            # Database down, restarting, out of connections or disk: nothing was acknowledged,
            # and 429 is the one error answer Brevo delivers again. Any other (5xx included)
            # would lose these events and the bounces among them for good.
            logger.exception("Could not store %d Brevo tracking event(s); answered 429 so Brevo retries", len(events))
            # A connection the server dropped is closed now, so the next delivery reconnects.
            connection.close_if_unusable_or_obsolete()
            return JsonResponse({"detail": "The events could not be stored; deliver them again later."}, status=429)
        if stored:
            # A repeat delivery adds nothing to process.
            enqueue_tracking_events_process()
        return HttpResponse()


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
