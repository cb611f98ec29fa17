"""The public unsubscribe pages: signed tokens, GET never acts, one-click POST, opting back in."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.test import Client

from accounts.models import OptOutMethod, Suppression, SuppressionReason
from accounts.tests.factories import SuppressionFactory
from campaigns.models import CampaignRecipient, SubscriptionChange
from campaigns.tests.factories import CampaignFactory, CampaignRecipientFactory
from campaigns.unsubscribe_links import TOKEN_MAX_AGE_SECONDS, unsubscribe_token, unsubscribe_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return CampaignFactory(subject="Spring news", body_html="<p>Hello</p>")


@pytest.fixture
def reader(make_user):
    return make_user(email="reader@example.com")


def _path(user, campaign):
    return urlsplit(unsubscribe_url(user_id=user.pk, campaign_id=campaign.pk if campaign else None)).path


def test_url_is_absolute_on_site_url(reader, campaign, settings):
    url = unsubscribe_url(user_id=reader.pk, campaign_id=campaign.pk)
    assert url.startswith(f"{settings.SITE_URL}/unsubscribe/")


def test_get_asks_for_confirmation_and_changes_nothing(client, reader, campaign):
    response = client.get(_path(reader, campaign))

    assert response.status_code == 200
    assert b"Unsubscribe from our emails?" in response.content
    assert b"reader@example.com" in response.content
    assert b"Spring news" in response.content
    reader.refresh_from_db()
    assert reader.email_opted_out_at is None
    assert not SubscriptionChange.objects.exists()
    assert "no-cache" in response["Cache-Control"]


def test_the_page_names_the_campaign_by_the_subject_the_recipient_got(client, reader):
    campaign = CampaignFactory(
        subject='{{ first_name | default:"Friend" }}, our autumn programme is here', body_html="<p>Hi</p>"
    )
    CampaignRecipientFactory(campaign=campaign, user=reader, email=reader.email, first_name="Ann")

    html = client.get(_path(reader, campaign)).content.decode()

    assert "You followed the link in “Ann, our autumn programme is here”." in html
    assert "{{" not in html


def test_without_a_ledger_row_the_subject_uses_the_account_names(client, make_user):
    nameless = make_user(email="nameless@example.com", first_name="")
    campaign = CampaignFactory(
        subject='{{ first_name | default:"Friend" }}, our autumn programme is here', body_html="<p>Hi</p>"
    )

    html = client.get(_path(nameless, campaign)).content.decode()

    assert "“Friend, our autumn programme is here”" in html


def test_head_changes_nothing(client, reader, campaign):
    response = client.head(_path(reader, campaign))

    assert response.status_code == 200
    reader.refresh_from_db()
    assert reader.email_opted_out_at is None


def test_confirmation_post_opts_out_and_records_how(client, reader, campaign):
    CampaignRecipientFactory(campaign=campaign, user=reader, email=reader.email)

    response = client.post(_path(reader, campaign))

    assert response.status_code == 200
    assert b"You are unsubscribed" in response.content
    reader.refresh_from_db()
    assert reader.email_opted_out_at is not None
    change = SubscriptionChange.objects.get()
    assert (change.user, change.campaign, change.opted_out, change.method) == (
        reader,
        campaign,
        True,
        OptOutMethod.LINK,
    )
    assert change.created_at == reader.email_opted_out_at
    assert CampaignRecipient.objects.get().unsubscribed_at == reader.email_opted_out_at


def test_one_click_post_without_cookies_or_csrf_token(reader, campaign):
    # RFC 8058: the mail client POSTs this body with no cookies and no CSRF token.
    mail_client = Client(enforce_csrf_checks=True)

    response = mail_client.post(
        _path(reader, campaign),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert response.cookies == {} or "csrftoken" not in response.cookies
    reader.refresh_from_db()
    assert reader.email_opted_out_at is not None
    assert SubscriptionChange.objects.get().method == OptOutMethod.ONE_CLICK


def test_one_click_post_as_multipart(reader, campaign):
    response = Client(enforce_csrf_checks=True).post(_path(reader, campaign), {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert SubscriptionChange.objects.get().method == OptOutMethod.ONE_CLICK


def test_button_post_passes_csrf_enforcement_too(reader, campaign):
    response = Client(enforce_csrf_checks=True).post(_path(reader, campaign))

    assert response.status_code == 200
    assert SubscriptionChange.objects.get().method == OptOutMethod.LINK


def test_opting_out_twice_is_harmless(client, reader, campaign):
    client.post(_path(reader, campaign))
    reader.refresh_from_db()
    first = reader.email_opted_out_at

    again = client.post(_path(reader, campaign), data="List-Unsubscribe=One-Click", content_type="text/plain")
    reader.refresh_from_db()

    assert again.status_code == 200
    assert reader.email_opted_out_at == first
    assert SubscriptionChange.objects.count() == 1


def test_get_after_opt_out_offers_to_subscribe_again(client, reader, campaign):
    client.post(_path(reader, campaign))

    response = client.get(_path(reader, campaign))

    assert b"You are unsubscribed" in response.content
    assert b"Subscribe again" in response.content


def test_token_without_campaign(client, reader):
    response = client.post(_path(reader, None))

    assert response.status_code == 200
    assert SubscriptionChange.objects.get().campaign is None


@pytest.mark.parametrize("method", ["get", "post"])
def test_tampered_token_is_refused(client, reader, campaign, method):
    token = unsubscribe_token(user_id=reader.pk, campaign_id=campaign.pk)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    response = getattr(client, method)(f"/unsubscribe/{forged}/")

    assert response.status_code == 400
    assert b"This link is not valid" in response.content
    reader.refresh_from_db()
    assert reader.email_opted_out_at is None


def test_token_for_another_user_cannot_be_made_by_editing_the_payload(client, reader, make_user, campaign):
    other = make_user(email="other@example.com")
    token = unsubscribe_token(user_id=reader.pk, campaign_id=campaign.pk)
    payload_of_other = signing.dumps({"u": other.pk, "c": campaign.pk}, salt="another-salt", compress=True)
    # Take the other user's payload and keep the reader's signature: the HMAC no longer matches.
    spliced = payload_of_other.split(":")[0] + ":" + ":".join(token.split(":")[1:])

    response = client.post(f"/unsubscribe/{spliced}/")

    assert response.status_code == 400
    other.refresh_from_db()
    assert other.email_opted_out_at is None


def test_token_signed_with_another_salt_is_refused(client, reader):
    token = signing.dumps({"u": reader.pk, "c": None}, compress=True)

    assert client.post(f"/unsubscribe/{token}/").status_code == 400


def test_expired_token_is_refused(client, reader, campaign, monkeypatch):
    import time as real_time

    issued = real_time.time() - TOKEN_MAX_AGE_SECONDS - 3600
    monkeypatch.setattr(signing.time, "time", lambda: issued)
    token = unsubscribe_token(user_id=reader.pk, campaign_id=campaign.pk)
    monkeypatch.undo()

    response = client.post(f"/unsubscribe/{token}/")

    assert response.status_code == 400
    assert b"This link has expired" in response.content
    reader.refresh_from_db()
    assert reader.email_opted_out_at is None


def test_token_of_deleted_user(client, reader, campaign):
    path = _path(reader, campaign)
    reader.delete()

    assert client.post(path).status_code == 404


def test_resubscribe_with_the_same_token(client, reader, campaign):
    path = _path(reader, campaign)
    client.post(path)
    SuppressionFactory(email=reader.email, reason=SuppressionReason.UNSUBSCRIBE, source="brevo")

    response = Client(enforce_csrf_checks=True).post(f"{path}resubscribe/")

    assert response.status_code == 200
    assert b"will receive our campaign emails again" in response.content
    reader.refresh_from_db()
    assert reader.email_opted_out_at is None
    assert not Suppression.objects.exists()
    assert [change.opted_out for change in SubscriptionChange.objects.order_by("id")] == [True, False]


def test_resubscribe_keeps_bounce_suppression_and_says_so(client, reader, campaign):
    path = _path(reader, campaign)
    client.post(path)
    SuppressionFactory(email=reader.email, reason=SuppressionReason.HARD_BOUNCE, source="brevo")

    response = client.post(f"{path}resubscribe/")

    assert b"cannot send to (hard bounce)" in response.content
    assert Suppression.objects.count() == 1


def test_resubscribe_get_only_shows_the_page(client, reader, campaign):
    path = _path(reader, campaign)
    client.post(path)

    response = client.get(f"{path}resubscribe/")

    assert response.status_code == 302
    assert response["Location"] == path
    reader.refresh_from_db()
    assert reader.email_opted_out_at is not None


def test_resubscribe_with_bad_token(client):
    assert client.post("/unsubscribe/nonsense/resubscribe/").status_code == 400


def test_other_methods_refused(client, reader, campaign):
    assert client.put(_path(reader, campaign)).status_code == 405
