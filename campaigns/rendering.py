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
from campaigns.models import Campaign


def campaign_html(campaign: Campaign) -> str:
    """The body as sent when sending began, else the body in its layout as it stands now."""
    if campaign.sent_html:
        return campaign.sent_html
    layout = campaign.layout if campaign.layout_id is not None else None
    if layout is None:
        return campaign.body_html
    return wrap_in_layout(layout_html=layout.html, css=layout.css, body_html=campaign.body_html)


def campaign_content(campaign: Campaign, *, subject: str | None = None) -> PreparedContent:
    """The campaign prepared for rendering (parsed, CSS inlined, text part, footer when needed);
    `subject` replaces its subject (test sends mark theirs)."""
    return prepare_content(
        subject=campaign.subject if subject is None else subject,
        preheader=campaign.preheader,
        body_html=campaign_html(campaign),
        body_text=campaign.body_text,
    )


def archive_message(campaign: Campaign, *, page_url: str) -> RenderedMessage:
    """The campaign as the public archive shows it: every placeholder at its default (or empty),
    the unsubscribe link inert, the web version link pointing at the archive page itself."""
    return campaign_content(campaign).render({"unsubscribe_url": "#", "web_version_url": page_url})


# Characters of the subject kept in an archive address, before the id that makes it unique.
ARCHIVE_SLUG_WORDS = 60


def archive_slug_for(campaign: Campaign) -> str:
    """The archive address of a campaign: its subject's words (placeholders by their defaults or
    names) and its id, so two campaigns with one subject never share a page."""
    words = slugify(readable_subject(campaign.subject))[:ARCHIVE_SLUG_WORDS].strip("-")
    return f"{words}-{campaign.pk}" if words else str(campaign.pk)
