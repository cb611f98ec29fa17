"""The one content function: a campaign's HTML as its recipients get it, body in its layout.

Batches, retries, test sends, previews, the web version and the archive all read a campaign's
content here. Once sending began the campaign carries the HTML it sent (`sent_html`), so a
layout edited since changes nothing already sent or still to send. The archive renders it with
the placeholders' defaults only: no recipient's values ever reach a public page.
"""

from __future__ import annotations

from django.utils.text import slugify

from campaigns.content import PreparedContent, RenderedMessage, prepare_content, readable_subject
from campaigns.layouts import wrap_in_layout
from campaigns.models import Campaign, CampaignVariant


def variant_value(campaign: Campaign, variant: CampaignVariant | None, name: str) -> str:
    """An A/B variant's `name` (subject, preheader, from_name, body_html, body_text), or the
    campaign's where the variant leaves it empty (or without a variant)."""
    own = getattr(variant, name) if variant is not None else ""
    return str(own or getattr(campaign, name))


def campaign_html(campaign: Campaign, variant: CampaignVariant | None = None) -> str:
    """The body as sent when sending began, else the body in its layout as it stands now; an A/B
    variant's own body likewise (frozen in its `sent_html`), or the campaign's where it has none."""
    if variant is not None and variant.body_html:
        if variant.sent_html:
            return variant.sent_html
        return _in_layout(campaign, variant.body_html)
    if campaign.sent_html:
        return campaign.sent_html
    return _in_layout(campaign, campaign.body_html)


def _in_layout(campaign: Campaign, body_html: str) -> str:
    layout = campaign.layout if campaign.layout_id is not None else None
    if layout is None:
        return body_html
    return wrap_in_layout(layout_html=layout.html, css=layout.css, body_html=body_html)


def campaign_content(
    campaign: Campaign, *, variant: CampaignVariant | None = None, subject: str | None = None
) -> PreparedContent:
    """The campaign (as A/B `variant`, when given) prepared for rendering (parsed, CSS inlined,
    text part, footer when needed); `subject` replaces its subject (test sends mark theirs)."""
    return prepare_content(
        subject=variant_value(campaign, variant, "subject") if subject is None else subject,
        preheader=variant_value(campaign, variant, "preheader"),
        body_html=campaign_html(campaign, variant),
        body_text=variant_value(campaign, variant, "body_text"),
    )


def archive_message(campaign: Campaign, *, page_url: str) -> RenderedMessage:
    """The campaign as the public archive shows it: every placeholder at its default (or empty),
    the unsubscribe link inert, the web version link pointing at the archive page itself. An A/B
    test shows the variant that won (its remainder's)."""
    return campaign_content(campaign, variant=campaign.variant(campaign.ab_winner)).render(
        {"unsubscribe_url": "#", "web_version_url": page_url}
    )


# Characters of the subject kept in an archive address, before the id that makes it unique.
ARCHIVE_SLUG_WORDS = 60


def archive_slug_for(campaign: Campaign) -> str:
    """The archive address of a campaign: its subject's words (placeholders by their defaults or
    names) and its id, so two campaigns with one subject never share a page."""
    words = slugify(readable_subject(campaign.subject))[:ARCHIVE_SLUG_WORDS].strip("-")
    return f"{words}-{campaign.pk}" if words else str(campaign.pk)
