"""campaigns' side of erasing a person (accounts.services.person_erase calls it first).

Ledger rows stay, so every campaign keeps its counts and rates, but lose the address and the
name: the address becomes a unique placeholder under the reserved `.invalid` domain. Tracking
events of the person go (their clicks kept as tallies, like retention does), and so does the
history of their opt-outs.
"""

from __future__ import annotations

from django.db.models import CharField, Q, Value
from django.db.models.functions import Cast, Concat

from accounts.services import PersonErasure
from campaigns.models import CampaignRecipient, SubscriptionChange, TrackingEvent
from campaigns.services.retention import tracking_events_delete

ERASED_DOMAIN = "erased.invalid"


def person_erase_campaign_data(erasure: PersonErasure) -> None:
    """Scrub the person's ledger rows, delete their tracking events and subscription history."""
    rows = Q(email__iexact=erasure.email)
    if erasure.user is not None:
        rows |= Q(user=erasure.user)
    row_ids = list(CampaignRecipient.objects.filter(rows).values_list("pk", flat=True))
    # Events name the address in a column and in Brevo's payload, matched or not.
    tracking_events_delete(TrackingEvent.objects.filter(Q(recipient_id__in=row_ids) | Q(email__iexact=erasure.email)))
    CampaignRecipient.objects.filter(pk__in=row_ids).update(
        email=Concat(Value("erased-"), Cast("pk", CharField()), Value(f"@{ERASED_DOMAIN}")),
        first_name="",
        last_name="",
        # A refusal may quote the address.
        last_error="",
        user=None,
    )
    if erasure.user is not None:
        SubscriptionChange.objects.filter(user=erasure.user).delete()
