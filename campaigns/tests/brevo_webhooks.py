"""What Brevo's tracking webhook sends, for the tests that play Brevo: the URL, its basic auth,
one event's payload, and how many jobs the deliveries queued."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import django_rq

from campaigns.models import CampaignRecipient

WEBHOOK = "/anymail/brevo/tracking/"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def queued_jobs() -> int:
    return django_rq.get_queue("default").count


def webhook_auth(secret: str = "hook:secret") -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def brevo_event(event: str, recipient: CampaignRecipient | None = None, *, at: datetime = T0, **extra: Any) -> dict:
    payload = {
        "event": event,
        "email": recipient.email if recipient else "nobody@example.com",
        "id": 123456,
        "date": at.strftime("%Y-%m-%d %H:%M:%S"),
        "ts": int(at.timestamp()),
        "ts_event": int(at.timestamp()),
        "ts_epoch": int(at.timestamp() * 1000),
        "message-id": recipient.message_id if recipient else "<202611200900.99@smtp-relay.mailin.fr>",
        "subject": "Spring news",
        "tags": [],
    }
    payload.update(extra)
    return payload
