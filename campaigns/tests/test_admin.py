from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from campaigns.tests.factories import CampaignFactory, CampaignRecipientFactory

pytestmark = pytest.mark.django_db


def action_url(campaign: Campaign, name: str) -> str:
    return reverse(f"admin:campaigns_campaign_{name}", args=[campaign.pk])


def change_url(campaign: Campaign) -> str:
    return reverse("admin:campaigns_campaign_change", args=[campaign.pk])


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# What the add page posts besides the content when nobody touches its A/B test: the settings'
# defaults and the two variant rows left as offered.
NO_AB_TEST = {
    "ab_test_share": "20",
    "ab_winner_metric": "opens",
    "ab_wait_minutes": "240",
    "ab_require_significance": "on",
    "variants-TOTAL_FORMS": "2",
    "variants-INITIAL_FORMS": "0",
    "variants-0-label": "A",
    "variants-1-label": "B",
}


def test_changelist_shows_status_audience_progress_and_dates(admin_client, django_assert_max_num_queries):
    CampaignFactory(
        subject="Spring",
        status=CampaignStatus.SENT,
        recipients_total=1200,
        recipient_count=1199,
        audience_frozen_at=timezone.now(),
    )
    CampaignFactory.create_batch(5)

    with django_assert_max_num_queries(9):  # session, user, permissions x2, counts x2, rows, dates x2
        response = admin_client.get(reverse("admin:campaigns_campaign_changelist"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Spring" in html
    assert "1,199 / 1,200" in html
    assert "All members" in html


def test_adding_a_campaign_goes_through_the_service(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:campaigns_campaign_add"),
        {"subject": "Hi {{ first_name }}", "body_html": "<p>Hello</p>", "target_segment": "ALL", **NO_AB_TEST},
    )

    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert (campaign.status, campaign.created_by) == (CampaignStatus.DRAFT, admin_user)
    assert not campaign.variants.exists()


def test_template_syntax_is_refused_on_the_form(admin_client):
    response = admin_client.post(
        reverse("admin:campaigns_campaign_add"),
        {"subject": "Hi", "body_html": "<p>{% include 'x.html' %}</p>", "target_segment": "ALL", **NO_AB_TEST},
    )

    assert response.status_code == 200
    assert "{% include %}" in response.content.decode()
    assert not Campaign.objects.exists()


def test_change_form_shows_a_sandboxed_preview_the_reachable_count_and_draft_buttons(admin_client, audience):
    audience(3)
    campaign = CampaignFactory(body_html="<p>Hello {{ first_name }}</p><script>alert(1)</script>")

    html = admin_client.get(change_url(campaign)).content.decode()

    assert 'sandbox=""' in html
    assert 'srcdoc="&lt;' in html  # the email's HTML is an escaped attribute value, never live markup
    assert "<script>alert(1)</script>" not in html
    assert "<strong>4</strong> users can be reached now" in html
    for name in ("send", "schedule", "test"):
        assert action_url(campaign, name) in html
    for name in ("pause", "resume", "cancel", "unschedule"):
        assert action_url(campaign, name) not in html


def test_send_now_then_a_second_click_is_refused_with_the_status(admin_client, audience):
    audience(1)
    campaign = CampaignFactory()

    first = admin_client.post(action_url(campaign, "send"))
    second = admin_client.post(action_url(campaign, "send"))

    assert first.status_code == second.status_code == 302
    assert messages_of(first) == ["Sending has started."]
    assert "that is sending (SENDING)" in messages_of(second)[-1]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING


def test_fields_are_read_only_once_the_campaign_left_draft(admin_client):
    campaign = CampaignFactory(status=CampaignStatus.SENDING, audience_frozen_at=timezone.now())

    html = admin_client.get(change_url(campaign)).content.decode()

    assert 'name="subject"' not in html
    assert action_url(campaign, "pause") in html
    assert action_url(campaign, "cancel") in html
    assert action_url(campaign, "send") not in html
    assert "Browse recipients" in html


def test_schedule_unschedule_pause_resume_cancel_buttons(admin_client):
    campaign = CampaignFactory()
    when = timezone.localtime() + timedelta(days=1)

    admin_client.post(action_url(campaign, "schedule"), {"scheduled_at": when.strftime("%Y-%m-%dT%H:%M")})
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED
    admin_client.post(action_url(campaign, "unschedule"))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT

    past = admin_client.post(action_url(campaign, "schedule"), {"scheduled_at": "2001-01-01T10:00"})
    assert "must be in the future" in messages_of(past)[-1]

    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    for name, status in (("pause", "PAUSED"), ("resume", "SENDING"), ("cancel", "CANCELLED")):
        admin_client.post(action_url(campaign, name))
        campaign.refresh_from_db()
        assert campaign.status == status
    refused = admin_client.post(action_url(campaign, "pause"))
    assert "(CANCELLED)" in messages_of(refused)[-1]


def test_test_send_button(admin_client):
    campaign = CampaignFactory()

    response = admin_client.post(action_url(campaign, "test"), {"emails": "qa@example.com,\nboss@example.com"})

    assert messages_of(response) == ["Test sent to qa@example.com, boss@example.com."]
    assert len(mail.outbox) == 2
    assert not CampaignRecipient.objects.exists()


def test_action_urls_are_post_only_and_csrf_protected(admin_user):
    campaign = CampaignFactory()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)

    assert strict.get(action_url(campaign, "send")).status_code == 405
    assert strict.post(action_url(campaign, "send")).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_roles_without_campaign_rights_cannot_act(client, manager_user):
    campaign = CampaignFactory()
    client.force_login(manager_user)

    assert client.post(action_url(campaign, "send")).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_recipients_are_browsable_by_status(admin_client, audience):
    users = audience(3)
    campaign = CampaignFactory(status=CampaignStatus.SENT)
    for user, status in zip(users, ["SENT", "FAILED", "UNKNOWN"], strict=True):
        CampaignRecipientFactory(campaign=campaign, user=user, email=user.email, status=status, last_error="x")
    changelist = reverse("admin:campaigns_campaignrecipient_changelist")

    failed = admin_client.get(changelist, {"status__exact": RecipientStatus.FAILED, "campaign__id__exact": campaign.pk})

    assert failed.status_code == 200
    html = failed.content.decode()
    assert users[1].email in html
    assert users[0].email not in html
    assert admin_client.get(reverse("admin:campaigns_campaignrecipient_add")).status_code == 403


# --- The page as staff meet it ------------------------------------------------------------------


def test_a_sent_campaign_reads_as_a_report_with_duplicate_and_no_save(admin_client):
    campaign = CampaignFactory(name="Spring", status=CampaignStatus.SENT, audience_frozen_at=timezone.now())

    html = admin_client.get(change_url(campaign)).content.decode()

    assert 'name="_save"' not in html
    assert 'name="_continue"' not in html
    assert action_url(campaign, "duplicate") in html
    assert 'value="Duplicate"' in html


def test_saving_from_a_stale_tab_says_the_campaign_was_sent_not_a_form_error(admin_client):
    campaign = CampaignFactory(status=CampaignStatus.SENT, audience_frozen_at=timezone.now())

    response = admin_client.post(change_url(campaign), {"name": "Edited", "subject": "Edited"})

    assert response.status_code == 302
    assert messages_of(response) == ["Cannot edit a campaign that is sent (SENT)."]
    campaign.refresh_from_db()
    assert campaign.name != "Edited"


def test_the_second_send_click_says_when_the_first_one_started(admin_client, audience):
    audience(1)
    campaign = CampaignFactory()
    admin_client.post(action_url(campaign, "send"))

    second = admin_client.post(action_url(campaign, "send"))

    message = list(get_messages(second.wsgi_request))[-1]
    assert message.level_tag == "warning"
    assert "It started at" in message.message
    assert "it is sent once" in message.message


def test_duplicate_button_opens_the_new_draft(admin_client, admin_user):
    campaign = CampaignFactory(name="Spring", status=CampaignStatus.SENT)

    response = admin_client.post(action_url(campaign, "duplicate"))

    copy = Campaign.objects.exclude(pk=campaign.pk).get()
    assert response["Location"] == change_url(copy)
    assert (copy.name, copy.status, copy.created_by) == ("Copy of Spring", CampaignStatus.DRAFT, admin_user)
    assert messages_of(response) == [
        "Duplicated as “Copy of Spring”, a draft: check the audience and send it when ready."
    ]


def test_schedule_reads_the_time_in_the_staff_members_zone(admin_client):
    campaign = CampaignFactory()
    local = timezone.localtime(timezone.now() + timedelta(days=2), ZoneInfo("Asia/Tokyo")).replace(
        second=0, microsecond=0
    )

    response = admin_client.post(
        action_url(campaign, "schedule"),
        {"scheduled_at": local.strftime("%Y-%m-%dT%H:%M"), "time_zone": "Asia/Tokyo"},
    )

    campaign.refresh_from_db()
    assert campaign.scheduled_at == local
    assert messages_of(response) == [f"Scheduled for {local:%Y-%m-%d %H:%M} (Asia/Tokyo)."]


def test_pages_show_times_in_the_zone_the_browser_reported(admin_client):
    campaign = CampaignFactory(status=CampaignStatus.SCHEDULED, scheduled_at=timezone.now() + timedelta(days=1))
    admin_client.cookies["staff_tz"] = "America/New_York"

    html = admin_client.get(change_url(campaign)).content.decode()

    shown = timezone.localtime(campaign.scheduled_at, ZoneInfo("America/New_York"))
    assert f"Goes out {shown:%a} {shown.day} {shown:%b %Y, %H:%M} (America/New_York)." in html


def test_the_outbox_is_not_called_brevo(admin_client):
    campaign = CampaignFactory(status=CampaignStatus.SENT, audience_frozen_at=timezone.now())

    html = admin_client.get(change_url(campaign)).content.decode()

    assert "accepted by Brevo" not in html
    assert "written to the local outbox (Brevo is not configured" in html


def test_the_report_says_accepted_by_brevo_when_it_is(admin_client, brevo):
    campaign = CampaignFactory(status=CampaignStatus.SENT, audience_frozen_at=timezone.now())

    assert "accepted by Brevo" in admin_client.get(change_url(campaign)).content.decode()


# --- Live answers for the page's script ----------------------------------------------------------


def test_live_preview_renders_what_the_page_holds(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:campaigns_campaign_preview"),
        {"subject": "Hi {{ first_name }}", "body_html": "<p>Hello {{ first_name }}</p>", "from_name": "Team"},
    )

    body = response.json()
    assert body["subject"] == f"Hi {admin_user.first_name}"
    assert f"Hello {admin_user.first_name}" in body["html"]
    assert body["sender"] == "Team <news@example.com>"


def test_live_preview_names_the_field_at_fault(admin_client):
    response = admin_client.post(
        reverse("admin:campaigns_campaign_preview"), {"subject": "Hi {{ user.password }}", "body_html": "<p>x</p>"}
    )

    assert response.status_code == 400
    assert response.json()["field"] == "subject"
    assert "Attribute access" in response.json()["error"]


def test_live_audience_counts_and_explains_an_empty_audience(admin_client, audience):
    audience(2)
    url = reverse("admin:campaigns_campaign_audience")

    everyone = admin_client.get(url, {"target_segment": "ALL", "segment": ""}).json()
    nobody = admin_client.get(url, {"target_segment": "INACTIVE", "segment": ""}).json()
    unchosen = admin_client.get(url, {"target_segment": "", "segment": ""}).json()

    assert (everyone["reachable"], everyone["problem"]) == (3, "")
    assert (nobody["reachable"], nobody["problem"]) == (0, "No user matches “Inactive members”.")
    assert unchosen["reachable"] is None


def test_a_test_send_works_before_the_first_save(admin_client):
    response = admin_client.post(
        reverse("admin:campaigns_campaign_test_draft"),
        {"subject": "Draft {{ first_name }}", "body_html": "<p>Unsaved</p>", "emails": "qa@example.com"},
    )

    assert response.json() == {"message": "Test sent to qa@example.com."}
    [message] = mail.outbox
    assert message.subject.startswith("[TEST] Draft")
    assert not Campaign.objects.exists()


def test_live_urls_need_campaign_rights(client, manager_user):
    client.force_login(manager_user)

    assert client.post(reverse("admin:campaigns_campaign_preview"), {"body_html": "x"}).status_code == 403
    assert client.get(reverse("admin:campaigns_campaign_audience")).status_code == 403
