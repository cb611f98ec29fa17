"""The public archive: only sent campaigns marked `archive`, newest first and paginated, a
stable address each, an RSS feed that parses, and no recipient's data on any page."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from campaigns.archive import ARCHIVE_PAGE_SIZE
from campaigns.models import Campaign, CampaignStatus
from campaigns.services import campaign_send_batch, campaign_start, campaign_update
from campaigns.tests.factories import CampaignFactory
from core.errors import StateConflictError

pytestmark = pytest.mark.django_db

BODY = (
    '<p>Dear {{ first_name | default:"reader" }} {{ last_name }},</p><p>Written for {{ email }}.</p>'
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> <a href="{{ web_version_url }}">Web</a></p>'
)


def send(campaign: Campaign) -> Campaign:
    """Send for real through the outbox, so the archive shows what the pipeline froze."""
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    campaign_start(campaign_id=campaign.pk)
    while campaign_send_batch(campaign_id=campaign.pk) is not None:
        pass
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    return campaign


@pytest.fixture
def reader():
    return UserFactory(first_name="Zelda", last_name="Quartermaine", email="zelda.q@example.com")


def test_only_sent_archived_campaigns_are_listed_newest_first(client: Client, reader):
    older = send(CampaignFactory(subject="Older news", archive=True, body_html=BODY))
    newer = send(CampaignFactory(subject="Newer news", archive=True, body_html=BODY))
    Campaign.objects.filter(pk=older.pk).update(sent_at=timezone.now() - timedelta(days=3))
    send(CampaignFactory(subject="Private news", archive=False, body_html=BODY))
    CampaignFactory(subject="Draft news", archive=True)
    CampaignFactory(subject="Sending news", archive=True, status=CampaignStatus.SENDING)

    page = client.get("/archive/").content.decode()

    assert page.index("Newer news") < page.index("Older news")
    for hidden in ("Private news", "Draft news", "Sending news"):
        assert hidden not in page
    assert f'href="/archive/{newer.archive_slug}/"' in page


def test_each_page_shows_the_email_with_defaults_and_nobodys_data(client: Client, reader):
    campaign = send(CampaignFactory(subject='News for {{ first_name | default:"you" }}', archive=True, body_html=BODY))
    assert "Zelda" in str(mail.outbox[0].alternatives[0][0])  # the real message was personal

    pages = [
        client.get("/archive/"),
        client.get(f"/archive/{campaign.archive_slug}/"),
        client.get("/archive/feed/"),
    ]

    assert campaign.archive_slug == f"news-for-you-{campaign.pk}"
    detail = pages[1].content.decode()
    assert "News for you" in detail
    assert "Dear reader ," in detail
    for page in pages:
        assert page.status_code == 200
        text = page.content.decode()
        for personal in ("Zelda", "Quartermaine", "zelda.q", "/unsubscribe/", "/email/"):
            assert personal not in text


def test_the_slug_stays_when_the_campaign_changes(client: Client, reader):
    campaign = send(CampaignFactory(subject="Spring", archive=True, body_html=BODY))
    slug = campaign.archive_slug

    Campaign.objects.filter(pk=campaign.pk).update(subject="Renamed by hand")
    campaign_start(campaign_id=campaign.pk)  # a second start job changes nothing

    campaign.refresh_from_db()
    assert campaign.archive_slug == slug
    assert client.get(f"/archive/{slug}/").status_code == 200
    assert client.get("/archive/no-such-thing/").status_code == 404


def test_the_list_is_paginated(client: Client):
    now = timezone.now()
    for number in range(ARCHIVE_PAGE_SIZE + 2):
        CampaignFactory(
            subject=f"Issue {number:02d}",
            body_html="<p>x</p>",
            status=CampaignStatus.SENT,
            archive=True,
            archive_slug=f"issue-{number}",
            sent_at=now - timedelta(days=number),
        )

    first = client.get("/archive/").content.decode()
    second = client.get("/archive/?page=2").content.decode()

    assert "Issue 00" in first
    assert f"Issue {ARCHIVE_PAGE_SIZE - 1:02d}" in first
    assert f"Issue {ARCHIVE_PAGE_SIZE:02d}" not in first
    assert f"Issue {ARCHIVE_PAGE_SIZE + 1:02d}" in second
    assert 'rel="next"' in first


def test_the_feed_is_rss_with_one_item_per_archived_campaign(client: Client, reader):
    campaign = send(CampaignFactory(subject="Feed news", archive=True, body_html=BODY))

    response = client.get("/archive/feed/")

    assert response["Content-Type"].startswith("application/rss+xml")
    root = ET.fromstring(response.content)  # noqa: S314 (our own feed, built by Django)
    assert root.tag == "rss"
    assert root.attrib["version"] == "2.0"
    channel = root.find("channel")
    assert channel is not None
    assert channel.findtext("title") == "Newsletter archive"
    items = channel.findall("item")
    assert [item.findtext("title") for item in items] == ["Feed news"]
    assert items[0].findtext("link") == f"http://testserver/archive/{campaign.archive_slug}/"
    assert items[0].findtext("pubDate")
    assert "Dear reader" in (items[0].findtext("description") or "")


def test_archive_is_editable_until_sent_and_then_refused(admin_client_api):
    sending = CampaignFactory(status=CampaignStatus.SENDING)
    sent = CampaignFactory(status=CampaignStatus.SENT)

    campaign_update(campaign=sending, changes={"archive": True})
    refused = admin_client_api.patch(f"/api/campaigns/{sent.pk}/", {"archive": True})
    mixed = admin_client_api.patch(f"/api/campaigns/{sending.pk}/", {"archive": False, "subject": "New"})

    sending.refresh_from_db()
    assert sending.archive is True
    assert refused.status_code == 409
    assert mixed.status_code == 409
    with pytest.raises(StateConflictError):
        campaign_update(campaign=sent, changes={"archive": True})


def test_the_admin_button_publishes_until_sent(client: Client, admin_user):
    client.force_login(admin_user)
    sending = CampaignFactory(status=CampaignStatus.SENDING)
    sent = CampaignFactory(status=CampaignStatus.SENT)

    page = client.get(reverse("admin:campaigns_campaign_change", args=[sending.pk])).content.decode()
    published = client.post(reverse("admin:campaigns_campaign_archive", args=[sending.pk]), {"archive": "1"})
    refused = client.post(reverse("admin:campaigns_campaign_archive", args=[sent.pk]), {"archive": "1"})

    assert "Publish in the archive once sent" in page
    sending.refresh_from_db()
    sent.refresh_from_db()
    assert (sending.archive, sent.archive) == (True, False)
    assert [str(m) for m in get_messages(published.wsgi_request)] == ["It will be published in the archive once sent."]
    assert "Cannot archive a campaign that is sent (SENT)." in [str(m) for m in get_messages(refused.wsgi_request)]
