"""Layouts: the body in its frame at send, preview and test time; the footer when the layout
drops the unsubscribe link; MJML compiled; the default for new drafts; what was sent stays sent
when the layout changes; delete refused while a campaign that left draft uses it; ADMIN only."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from campaigns.layouts import wrap_in_layout
from campaigns.models import Campaign, CampaignStatus, Layout
from campaigns.services import campaign_send_batch, campaign_send_test, campaign_start
from campaigns.services.layouts import layout_create, layout_update
from campaigns.tests.factories import CampaignFactory
from core.testing import error_fields

pytestmark = pytest.mark.django_db

LAYOUTS = "/api/layouts/"
FRAME = (
    "<html><head><title>Frame</title></head><body><div class='masthead'>THE GAZETTE</div>"
    '{{ content }}<p class="legal">Write to us. <a href="{{ unsubscribe_url }}">Leave</a></p></body></html>'
)
MJML = (
    "<mjml><mj-body><mj-section><mj-column><mj-text>MJML MASTHEAD</mj-text>"
    "<mj-text>{{ content }}</mj-text></mj-column></mj-section></mj-body></mjml>"
)


def html_of(message: mail.EmailMultiAlternatives) -> str:
    return str(message.alternatives[0][0])


def send_everything(campaign: Campaign) -> None:
    campaign_start(campaign_id=campaign.pk)
    while campaign_send_batch(campaign_id=campaign.pk) is not None:
        pass


# --- Wrapping ------------------------------------------------------------------------------------


def test_a_whole_document_body_gives_its_styles_to_the_head_and_its_body_to_the_slot():
    wrapped = wrap_in_layout(
        layout_html="<html><head></head><body><header>H</header>{{ content }}</body></html>",
        css="h1 { color: red; }",
        body_html="<html><head><style>p { margin: 0; }</style></head><body><p>Hi</p></body></html>",
    )

    assert wrapped == (
        "<html><head><style>h1 { color: red; }</style><style>p { margin: 0; }</style></head>"
        "<body><header>H</header><p>Hi</p></body></html>"
    )


def test_sending_wraps_each_message_in_the_layout(audience, settings):
    settings.CAMPAIGN_BATCH_SIZE = 10
    audience(2)
    layout = layout_create(name="Gazette", html=FRAME, css=".masthead { color: #123456; }")
    campaign = CampaignFactory(status=CampaignStatus.SENDING, layout=layout)

    send_everything(campaign)

    assert len(mail.outbox) == 2
    html = html_of(mail.outbox[0])
    assert "THE GAZETTE" in html
    assert "#123456" in html  # the layout's CSS, inlined
    assert html.index("THE GAZETTE") < html.index("Hello") < html.index("Leave")
    assert html.count("<body") == 1
    assert "THE GAZETTE" in mail.outbox[0].body  # the text part is made from the whole email


def test_the_preview_and_test_sends_use_the_layout(admin_client_api, admin_user):
    layout = layout_create(name="Gazette", html=FRAME)
    campaign = CampaignFactory(layout=layout)

    preview = admin_client_api.get(f"/api/campaigns/{campaign.pk}/preview/").json()
    campaign_send_test(campaign=campaign, by=admin_user, emails=["me@example.com"])

    assert "THE GAZETTE" in preview["html"]
    assert "THE GAZETTE" in html_of(mail.outbox[0])


def test_editing_the_layout_never_changes_what_was_sent(audience, settings):
    settings.CAMPAIGN_BATCH_SIZE = 1
    audience(2)
    layout = layout_create(name="Gazette", html=FRAME)
    campaign = CampaignFactory(status=CampaignStatus.SENDING, layout=layout)
    campaign_start(campaign_id=campaign.pk)
    campaign_send_batch(campaign_id=campaign.pk)

    layout_update(layout=layout, changes={"html": FRAME.replace("THE GAZETTE", "THE NEW MASTHEAD")})
    while campaign_send_batch(campaign_id=campaign.pk) is not None:
        pass

    assert len(mail.outbox) == 2
    assert all("THE GAZETTE" in html_of(message) for message in mail.outbox)
    campaign.refresh_from_db()
    assert "THE GAZETTE" in campaign.sent_html
    assert "THE NEW MASTHEAD" not in campaign.sent_html


def test_a_layout_without_the_unsubscribe_link_gets_the_standard_footer(admin_client_api, audience):
    audience(1)
    created = admin_client_api.post(LAYOUTS, {"name": "Bare", "html": "<div>TOP</div>{{ content }}"})
    campaign = CampaignFactory(
        status=CampaignStatus.SENDING, layout_id=created.json()["id"], body_html="<p>No link here</p>"
    )

    send_everything(campaign)

    assert created.status_code == 201
    assert created.json()["footer_added"] is True
    html = html_of(mail.outbox[0])
    assert "Unsubscribe</a>" in html
    assert "/unsubscribe/" in html
    assert "Example Ltd" in html  # the postal address


# --- The API -------------------------------------------------------------------------------------


def test_mjml_is_compiled_and_the_html_stored(admin_client_api):
    response = admin_client_api.post(LAYOUTS, {"name": "Responsive", "mjml": MJML})

    assert response.status_code == 201
    body = response.json()
    assert body["mjml"] == MJML
    assert body["html"].startswith("<!doctype html>")
    assert body["html"].count("{{ content }}") == 1
    assert "MJML MASTHEAD" in body["html"]
    assert "fonts.googleapis.com" not in body["html"]
    assert Layout.objects.get().html == body["html"]


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        (
            {"html": "<p>no slot</p>"},
            "html",
            "exactly one {{ content }} slot, where the body goes; found none",
        ),
        ({"html": "{{ content }}{{ content }}"}, "html", "found 2"),
        ({"html": "{{ content }}{% include 'x' %}"}, "html", "Template tags are not allowed"),
        ({"mjml": "<mjml><mj-body><mj-section>"}, "mjml", "This MJML does not compile"),
        ({"html": "{{ content }}", "css": "</style><script>"}, "css", "CSS only"),
        ({"html": "{{ content }}", "mjml": MJML}, "html", "not both"),
        ({}, "html", "Give the layout's HTML (or its MJML)."),
    ],
)
def test_bad_layouts_are_refused_naming_the_field(admin_client_api, payload, field, message):
    response = admin_client_api.post(LAYOUTS, {"name": "Broken", **payload})

    assert response.status_code == 400
    assert message in error_fields(response)[field][0]


def test_names_are_unique_ignoring_case(admin_client_api):
    layout_create(name="Gazette", html=FRAME)

    response = admin_client_api.post(LAYOUTS, {"name": "gazette", "html": FRAME})

    assert response.status_code == 400
    assert error_fields(response)["name"] == ["A layout named “gazette” exists already."]


def test_the_default_layout_frames_new_drafts_and_one_default_at_a_time(admin_client_api):
    first = admin_client_api.post(LAYOUTS, {"name": "One", "html": FRAME, "is_default": True}).json()
    second = admin_client_api.post(LAYOUTS, {"name": "Two", "html": FRAME, "is_default": True}).json()
    campaign = {"subject": "Hi", "body_html": "<p>Hi</p>"}

    framed = admin_client_api.post("/api/campaigns/", campaign).json()
    bare = admin_client_api.post("/api/campaigns/", {**campaign, "layout": None}).json()

    assert (framed["layout"], bare["layout"]) == (second["id"], None)
    assert list(Layout.objects.filter(is_default=True).values_list("pk", flat=True)) == [second["id"]]
    assert admin_client_api.get(f"{LAYOUTS}{first['id']}/").json()["is_default"] is False


def test_delete_is_refused_while_a_campaign_that_left_draft_uses_it(admin_client_api):
    layout = layout_create(name="Gazette", html=FRAME)
    sent = CampaignFactory(layout=layout, status=CampaignStatus.SENT)
    draft = CampaignFactory(layout=layout)

    refused = admin_client_api.delete(f"{LAYOUTS}{layout.pk}/")
    Campaign.objects.filter(pk=sent.pk).update(layout=None)
    deleted = admin_client_api.delete(f"{LAYOUTS}{layout.pk}/")

    assert refused.status_code == 409
    assert refused.json()["campaigns"] == [sent.pk]
    assert deleted.status_code == 204
    draft.refresh_from_db()
    assert draft.layout is None


def test_layouts_are_for_the_admin_role_only(manager_client_api):
    assert manager_client_api.get(LAYOUTS).status_code == 403
    assert APIClient().get(LAYOUTS).status_code == 401


def test_the_list_counts_campaigns_and_says_when_the_footer_is_added(admin_client_api, django_assert_max_num_queries):
    layout = layout_create(name="Gazette", html=FRAME)
    CampaignFactory.create_batch(2, layout=layout)
    layout_create(name="Bare", html="{{ content }}")

    with django_assert_max_num_queries(4):
        rows = admin_client_api.get(LAYOUTS).json()["results"]

    assert [(row["name"], row["campaigns"], row["footer_added"]) for row in rows] == [
        ("Bare", 0, True),
        ("Gazette", 2, False),
    ]


# --- The admin -----------------------------------------------------------------------------------


def test_the_admin_saves_mjml_and_says_when_the_footer_is_added(client: Client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:campaigns_layout_add"),
        {"name": "Responsive", "html": "", "mjml": MJML, "css": "", "is_default": "on"},
    )

    assert response.status_code == 302
    layout = Layout.objects.get()
    assert (layout.is_default, layout.footer_added) == (True, True)
    assert "MJML MASTHEAD" in layout.html
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert any("gets the standard footer" in message for message in shown)


def test_the_admin_shows_the_slot_error_on_the_field(client: Client, admin_user):
    client.force_login(admin_user)

    response = client.post(reverse("admin:campaigns_layout_add"), {"name": "Broken", "html": "<p>x</p>", "css": ""})

    assert response.status_code == 200
    assert "A layout needs exactly one {{ content }} slot" in response.content.decode()
    assert not Layout.objects.exists()
