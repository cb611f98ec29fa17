from __future__ import annotations

import factory

from campaigns.models import Campaign, CampaignStatus
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
