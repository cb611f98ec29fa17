"""Unsubscribe as the recipients see it: what Brevo received (headers, link, footer), and an
opt-out or suppression that stops mail even to a campaign already sending."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client

from accounts.models import SuppressionReason, User
from accounts.services import suppression_add
from campaigns.content import prepare_content
from campaigns.models import CampaignRecipient, CampaignStatus, RecipientStatus
from campaigns.selectors import campaign_audience
from campaigns.services import campaign_send
from campaigns.services.unsubscribe import DROPPED_AT_CLAIM
from campaigns.tests.factories import CampaignFactory
from campaigns.unsubscribe_links import read_unsubscribe_token, unsubscribe_url, with_unsubscribe_footer

# Sending enqueues its jobs after commit, so these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = "Acme Homes Ltd, 12 Harbour Road, Bristol BS1 4QA"


@pytest.fixture(autouse=True)
def _postal_address(settings):
    settings.SENDER_POSTAL_ADDRESS = ADDRESS
    settings.SITE_URL = "https://mail.example.org"


@pytest.fixture
def admin_user(admin_user):
    """The sender, kept out of the audience (the ALL preset would include a verified admin)."""
    User.objects.filter(pk=admin_user.pk).update(is_verified=False)
    return admin_user


def new_campaign(admin_user, **fields):
    return CampaignFactory(created_by=admin_user, **fields)


def _token(url: str) -> str:
    return urlsplit(url).path.split("/")[2]


def test_each_message_brevo_received_carries_one_click_headers_for_its_recipient(brevo, admin_user, audience, run_jobs):
    members = audience(3)
    campaign = new_campaign(admin_user)

    campaign_send(campaign=campaign, by=admin_user)
    run_jobs()

    assert sorted(message["to"] for message in brevo.messages) == sorted(user.email for user in members)
    by_email = {user.email: user for user in members}
    links = set()
    for message in brevo.messages:
        headers = message["headers"]
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        unsubscribe = headers["List-Unsubscribe"]
        assert unsubscribe.startswith("<https://mail.example.org/unsubscribe/")
        assert unsubscribe.endswith("/>")
        link = unsubscribe[1:-1]
        claim = read_unsubscribe_token(_token(link))
        assert (claim.user_id, claim.campaign_id) == (by_email[message["to"]].pk, campaign.pk)
        # The body's link is the same per-recipient URL, filled in by Brevo from the params.
        assert message["params"]["unsubscribe_url"] == link
        assert "{{ params.unsubscribe_url }}" in message["html"]
        links.add(link)
    assert len(links) == 3


def test_footer_with_link_and_postal_address_is_added_when_the_body_lacks_them(brevo, admin_user, audience, run_jobs):
    audience(1)
    campaign = new_campaign(admin_user, body_html="<html><body><p>Hello {{ first_name }}</p></body></html>")

    campaign_send(campaign=campaign, by=admin_user)
    run_jobs()

    (message,) = brevo.messages
    html = message["html"]
    assert '<a href="{{ params.unsubscribe_url }}"' in html
    assert ADDRESS in html
    # Inside the body, after the content.
    assert html.index("Hello") < html.index(ADDRESS) < html.index("</body>")
    assert "{{ params.unsubscribe_url }}" in message["text"]
    assert ADDRESS in message["text"]


def test_a_body_that_has_link_and_address_is_left_as_written():
    body = f'<p>Hi</p><p><a href="{{{{ unsubscribe_url }}}}">Stop these</a> {ADDRESS}</p>'

    html, text = with_unsubscribe_footer(body_html=body, body_text="")

    assert html == body
    assert text == ""


def test_a_body_with_its_own_link_gets_only_the_address():
    body = '<p><a href="{{ unsubscribe_url | default:"#" }}">Unsubscribe</a></p>'

    html, _ = with_unsubscribe_footer(body_html=body, body_text="")

    assert html.count("unsubscribe_url") == 1
    assert ADDRESS in html


def test_written_text_part_gets_the_footer_too():
    _, text = with_unsubscribe_footer(body_html="<p>Hi</p>", body_text="Hi there")

    assert text == f"Hi there\n\n--\nUnsubscribe: {{{{ unsubscribe_url }}}}\n{ADDRESS}\n"


def test_address_with_markup_is_escaped_and_braces_cannot_become_placeholders(settings):
    settings.SENDER_POSTAL_ADDRESS = "Tom & Jerry <Ltd> {{ email }}"

    prepared = prepare_content(subject="Hi", preheader="", body_html="<p>Hi</p>", body_text="")

    rendered = prepared.render({"unsubscribe_url": "https://x.example/u/1/", "email": "secret@example.com"})
    assert "Tom &amp; Jerry &lt;Ltd&gt;" in rendered.html
    assert "secret@example.com" not in rendered.html
    assert 'href="https://x.example/u/1/"' in rendered.html


def test_one_click_post_from_the_header_brevo_received_opts_out(brevo, admin_user, audience, run_jobs):
    member = audience(1)[0]
    campaign_send(campaign=new_campaign(admin_user), by=admin_user)
    run_jobs()
    link = brevo.messages[0]["headers"]["List-Unsubscribe"][1:-1]

    response = Client(enforce_csrf_checks=True).post(
        urlsplit(link).path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    member.refresh_from_db()
    assert member.email_opted_out_at is not None
    assert CampaignRecipient.objects.get().unsubscribed_at == member.email_opted_out_at


def test_opt_out_after_the_audience_froze_stops_mail_mid_send(
    brevo, admin_user, audience, run_jobs, settings, client, run_some
):
    settings.CAMPAIGN_BATCH_SIZE = 2
    settings.CAMPAIGN_SEND_CONCURRENCY = 1
    members = audience(6)
    campaign = new_campaign(admin_user)

    campaign_send(campaign=campaign, by=admin_user)
    run_some(2)  # the start job froze the audience; the first batch went out
    assert len(brevo.messages) == 2
    sent = {message["to"] for message in brevo.messages}
    later = [user for user in members if user.email not in sent]
    # One unsubscribes with this campaign's link, one address hard-bounces on other mail.
    opted_out, bounced = later[0], later[3]
    path = urlsplit(unsubscribe_url(user_id=opted_out.pk, campaign_id=campaign.pk)).path
    assert client.post(path).status_code == 200
    suppression_add(email=bounced.email.upper(), reason=SuppressionReason.HARD_BOUNCE, source="test")

    run_jobs()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    received = sorted(message["to"] for message in brevo.messages)
    assert received == sorted(user.email for user in members if user not in (opted_out, bounced))
    dropped = CampaignRecipient.objects.filter(status=RecipientStatus.CANCELLED)
    assert sorted(dropped.values_list("email", flat=True)) == sorted([opted_out.email, bounced.email])
    assert set(dropped.values_list("last_error", flat=True)) == {DROPPED_AT_CLAIM}
    assert not campaign_audience(campaign=campaign).filter(pk__in=[opted_out.pk, bounced.pk]).exists()


def test_a_whole_batch_of_opted_out_recipients_does_not_end_the_chain(
    brevo, admin_user, audience, run_jobs, settings, run_some
):
    settings.CAMPAIGN_BATCH_SIZE = 2
    settings.CAMPAIGN_SEND_CONCURRENCY = 1
    members = audience(5)
    campaign = new_campaign(admin_user)
    campaign_send(campaign=campaign, by=admin_user)
    run_some(1)  # frozen, nothing sent yet
    for user in members[:4]:
        suppression_add(email=user.email, reason=SuppressionReason.MANUAL, source="test")

    run_jobs()

    assert brevo.accepted_emails() == [members[4].email]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
