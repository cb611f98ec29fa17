"""The public archive: sent campaigns marked `archive`, newest first, each on a page of its own
and in an RSS feed (Django's syndication framework).

Every page renders the HTML the campaign sent with the placeholders' defaults only
(`campaigns.rendering.archive_message`): no recipient's name, address or link is ever shown.
No login; nothing here writes.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.syndication.views import Feed
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from campaigns.content import subject_for
from campaigns.models import Campaign
from campaigns.rendering import archive_message
from campaigns.selectors import archived_campaigns

# Campaigns per archive page, and in the feed (readers fetch it often: the latest are enough).
ARCHIVE_PAGE_SIZE = 20
FEED_ITEMS = 20
# Characters of the text part a feed item carries as its summary.
FEED_SUMMARY_CHARS = 500


def public_subject(campaign: Campaign) -> str:
    """The subject with the placeholders' defaults (never anyone's name)."""
    return subject_for(campaign.subject, {})


def archive_page_url(campaign: Campaign) -> str:
    return f"{settings.SITE_URL}{reverse('archive_detail', args=[campaign.archive_slug])}"


@login_not_required
@require_GET
def archive_index(request: HttpRequest) -> HttpResponse:
    """Archived campaigns, newest first, ARCHIVE_PAGE_SIZE a page."""
    page = Paginator(archived_campaigns(), ARCHIVE_PAGE_SIZE).get_page(request.GET.get("page"))
    entries = [(campaign, public_subject(campaign)) for campaign in page.object_list]
    context = {"page": page, "entries": entries, "title": settings.ARCHIVE_TITLE}
    return render(request, "campaigns/archive_index.html", context)


@login_not_required
@require_GET
def archive_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """One archived campaign as sent, with the placeholders' defaults."""
    campaign = get_object_or_404(archived_campaigns(), archive_slug=slug)
    message = archive_message(campaign, page_url=archive_page_url(campaign))
    context = {"campaign": campaign, "subject": message.subject, "html": message.html, "title": settings.ARCHIVE_TITLE}
    return render(request, "campaigns/archive_detail.html", context)


class ArchiveFeed(Feed):
    """RSS 2.0 of the latest archived campaigns, each linking to its archive page."""

    description = "Campaigns as they were sent, newest first."

    def title(self) -> str:
        return str(settings.ARCHIVE_TITLE)

    def link(self) -> str:
        return reverse("archive_index")

    def items(self) -> list[Campaign]:
        return list(archived_campaigns()[:FEED_ITEMS])

    def item_title(self, item: Campaign) -> str:
        return public_subject(item)

    def item_description(self, item: Campaign) -> str:
        text = archive_message(item, page_url=archive_page_url(item)).text
        return text if len(text) <= FEED_SUMMARY_CHARS else text[:FEED_SUMMARY_CHARS].rsplit(" ", 1)[0] + " …"

    def item_link(self, item: Campaign) -> str:
        return reverse("archive_detail", args=[item.archive_slug])

    def item_pubdate(self, item: Campaign) -> datetime | None:
        return item.sent_at


archive_feed = login_not_required(ArchiveFeed())
