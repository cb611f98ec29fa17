"""The web version: a signed link per recipient showing the email as they got it, no login, not
an open; 400 for a token not signed here, 404 once the person is gone, nobody else's data."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.services import person_erase
from accounts.tests.factories import UserFactory
from campaigns.models import CampaignRecipient, CampaignStatus, TrackingEvent
from campaigns.services import campaign_send_batch, campaign_start
from campaigns.tests.factories import CampaignFactory
from campaigns.unsubscribe_links import UnsubscribeClaim, read_unsubscribe_token

pytestmark = pytest.mark.django_db

BODY = (
    '<p>Hello {{ first_name | default:"friend" }} ({{ email }})</p>'
    '<p><a href="{{ web_version_url }}">View in your browser</a> · '
    '<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
)


def link_in(html: str, text: str) -> str:
    found = re.search(rf'href="([^"]+)"[^>]*>{text}<', html)
    assert found is not None, html
    return found.group(1).replace("&amp;", "&")


def token_claim(url: str) -> UnsubscribeClaim:
    return read_unsubscribe_token(url.rstrip("/").rsplit("/", 1)[1])


@pytest.fixture
def sent_to_two(settings):
    """A campaign sent through the outbox to Ann and Bob: their messages' HTML, by first name."""
    settings.CAMPAIGN_BATCH_SIZE = 10
    UserFactory(first_name="Ann", email="ann@example.com")
    UserFactory(first_name="Bob", email="bob@example.com")
    campaign = CampaignFactory(status=CampaignStatus.SENDING, body_html=BODY)
    campaign_start(campaign_id=campaign.pk)
    campaign_send_batch(campaign_id=campaign.pk)
    return {message.to[0].split(" ")[0]: str(message.alternatives[0][0]) for message in mail.outbox}


def test_the_link_shows_the_email_as_that_recipient_got_it(client: Client, sent_to_two):
    messages = sent_to_two
    url = link_in(messages["Ann"], "View in your browser")

    response = client.get(url.removeprefix("http://testserver"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Hello Ann (ann@example.com)" in page
    assert "bob@example.com" not in page
    # Their own, working unsubscribe link (signed anew, so compared by what it names).
    assert token_claim(link_in(page, "Unsubscribe")) == token_claim(link_in(messages["Ann"], "Unsubscribe"))
    assert client.get(link_in(page, "Unsubscribe").removeprefix("http://testserver")).status_code == 200
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Content-Security-Policy"].startswith("sandbox")


def test_reading_it_is_not_an_open(client: Client, sent_to_two):
    messages = sent_to_two

    client.get(link_in(messages["Ann"], "View in your browser").removeprefix("http://testserver"))

    row = CampaignRecipient.objects.get(email="ann@example.com")
    assert (row.first_opened_at, row.open_count, row.first_machine_opened_at) == (None, 0, None)
    assert not TrackingEvent.objects.exists()


def test_a_tampered_token_is_400_and_shows_nobody(client: Client, sent_to_two):
    messages = sent_to_two
    path = link_in(messages["Ann"], "View in your browser").removeprefix("http://testserver")
    token = path.split("/")[2]
    # The payload of Bob's token with Ann's signature: refused, never Bob's message.
    bob_token = link_in(messages["Bob"], "View in your browser").split("/")[-2]
    forged = bob_token.split(":")[0] + ":" + token.split(":")[1]

    for bad in (token[:-2] + "xx", forged, "nonsense"):
        response = client.get(f"/email/{bad}/")
        assert response.status_code == 400
        page = response.content.decode()
        assert "This link is not valid" in page
        assert "example.com" not in page


def test_an_erased_recipient_gets_404(client: Client, sent_to_two):
    messages = sent_to_two
    path = link_in(messages["Ann"], "View in your browser").removeprefix("http://testserver")
    assert client.get(path).status_code == 200

    person_erase(email="ann@example.com", by=None, via="command")
    response = client.get(path)

    assert response.status_code == 404
    assert "ann@example.com" not in response.content.decode()
    assert "This email is no longer available" in response.content.decode()
