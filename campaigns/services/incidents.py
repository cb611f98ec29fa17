"""Brevo's latest trouble, kept for the dashboard: the last error and the last rate limit.

`brevo.answers` reports every refused, rate-limited or unanswered request it reads (sending and
list syncs alike) to the listener registered in `CampaignsConfig.ready()`. Each report is one
UPDATE of a one-row-per-kind table, cheap enough for a burst of 429s during a large send.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from brevo import Trouble
from campaigns.models import BrevoIncident


def brevo_incident_record(*, trouble: Trouble, now: datetime | None = None) -> None:
    """Overwrite the latest incident of the trouble's kind and count it."""
    kind = BrevoIncident.Kind.RATE_LIMITED if trouble.rate_limited else BrevoIncident.Kind.ERROR
    values = {
        "occurred_at": now or timezone.now(),
        "status": trouble.status,
        "where": trouble.where[:200],
        "detail": trouble.detail[:2000],
    }
    if BrevoIncident.objects.filter(kind=kind).update(**values, count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            BrevoIncident.objects.create(kind=kind, **values)
    except IntegrityError:
        # Another process wrote the first row of this kind meanwhile.
        BrevoIncident.objects.filter(kind=kind).update(**values, count=F("count") + 1)


def brevo_trouble_received(trouble: Trouble) -> None:
    """The listener `brevo.on_trouble` calls."""
    brevo_incident_record(trouble=trouble)
