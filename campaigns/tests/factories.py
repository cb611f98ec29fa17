from __future__ import annotations

import factory

from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, TrackingEvent
from segments.models import Membership


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    subject = factory.Sequence(lambda n: f'News {n} for {{{{ first_name | default:"you" }}}}')
    preheader = "This month at a glance"
    body_html = (
        "<html><head><style>p { color: #333; }</style></head><body>"
        "<p>Hello {{ first_name }},</p><p>News for {{ email }}.</p>"
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
    )
    body_text = ""
    target_segment = Membership.ALL
    status = CampaignStatus.DRAFT
    created_by = None


class CampaignRecipientFactory(factory.django.DjangoModelFactory):
    """A ledger row written directly (no snapshot): for setting up what sending or Brevo left."""

    class Meta:
        model = CampaignRecipient

    campaign = factory.SubFactory(CampaignFactory)
    user = None
    email = factory.LazyAttributeSequence(lambda row, n: row.user.email if row.user else f"recipient{n}@example.com")


class TrackingEventFactory(factory.django.DjangoModelFactory):
    """A stored Brevo event, as the webhook keeps it before processing."""

    class Meta:
        model = TrackingEvent

    dedup_key = factory.Sequence(lambda n: f"event-{n}")
    esp_event = "delivered"
    event_type = "delivered"
    payload = factory.LazyFunction(dict)
