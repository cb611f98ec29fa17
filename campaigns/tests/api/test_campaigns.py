from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from campaigns.tests.factories import CampaignFactory, CampaignRecipientFactory
from core.testing import error_code, error_detail, error_fields
from segments.models import Membership
from segments.tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db

LIST = "/api/campaigns/"


def detail(campaign: Campaign, action: str = "") -> str:
    return f"{LIST}{campaign.pk}/{action + '/' if action else ''}"


LEDGER_KEYS = ("recipients", "pending", "sending", "sent", "failed", "unknown", "cancelled")


def ledger_counts(stats: dict) -> dict:
    """The ledger's own counts (tracking counts live in the same dictionary)."""
    return {key: stats[key] for key in LEDGER_KEYS}


VALID = {
    "subject": 'Hello {{ first_name | default:"friend" }}',
    "body_html": '<p>Hi {{ first_name }}</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
}


# --- Access ---------------------------------------------------------------------------------


def test_anonymous_gets_401(api_client: APIClient):
    assert api_client.get(LIST).status_code == 401


@pytest.mark.parametrize("role", [Role.MANAGER, Role.STAFF, Role.CLIENT])
def test_other_roles_get_403(api_client: APIClient, make_user, role):
    api_client.force_authenticate(make_user(role))

    assert api_client.get(LIST).status_code == 403
    assert api_client.post(LIST, VALID).status_code == 403


# --- Drafts ---------------------------------------------------------------------------------


def test_create_makes_a_draft_by_the_caller(admin_client_api: APIClient, admin_user):
    segment = SegmentFactory(name="Everyone in GB", countries=["GB"], membership=Membership.ALL, created_by=None)

    response = admin_client_api.post(LIST, {**VALID, "target_segment": "ACTIVE", "segment": segment.pk})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "DRAFT"
    assert body["created_by"] == admin_user.email
    assert body["segment_name"] == "Everyone in GB"
    assert ledger_counts(body["stats"]) == {
        "recipients": 0,
        "pending": 0,
        "sending": 0,
        "sent": 0,
        "failed": 0,
        "unknown": 0,
        "cancelled": 0,
    }
    assert Campaign.objects.get(pk=body["id"]).created_by == admin_user


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("body_html", "<p>{% include 'secret.html' %}</p>", "{% include %}"),
        ("body_html", "<p>{{ user.password }}</p>", "Attribute access"),
        ("subject", "Hi {{ name }}", "Unknown placeholder {{ name }}"),
        ("body_text", "{% load static %}", "{% load %}"),
        ("preheader", "{% debug %}", "{% debug %}"),
    ],
)
def test_template_syntax_beyond_the_placeholders_is_a_400_naming_it(admin_client_api, field, value, named):
    response = admin_client_api.post(LIST, {**VALID, field: value})

    assert response.status_code == 400
    assert named in error_fields(response)[field][0]
    assert not Campaign.objects.exists()


def test_missing_and_malformed_fields_are_400s_naming_them(admin_client_api):
    response = admin_client_api.post(LIST, {"subject": "", "target_segment": "NOBODY", "segment": 999})

    assert response.status_code == 400
    assert {"subject", "body_html", "target_segment", "segment"} <= set(error_fields(response))


def test_drafts_can_be_edited_and_deleted(admin_client_api):
    campaign = CampaignFactory()

    patched = admin_client_api.patch(detail(campaign), {"subject": "New subject"})
    put = admin_client_api.put(detail(campaign), {**VALID, "from_name": "Team"})
    deleted = admin_client_api.delete(detail(campaign))

    assert patched.status_code == 200
    assert patched.json()["subject"] == "New subject"
    assert put.status_code == 200
    assert put.json()["from_name"] == "Team"
    assert deleted.status_code == 204
    assert not Campaign.objects.exists()


@pytest.mark.parametrize("status", [s for s in CampaignStatus.values if s != "DRAFT"])
def test_editing_or_deleting_outside_draft_is_a_409_naming_the_status(admin_client_api, status):
    campaign = CampaignFactory(status=status)

    patched = admin_client_api.patch(detail(campaign), {"subject": "New"})
    deleted = admin_client_api.delete(detail(campaign))

    for response in (patched, deleted):
        assert response.status_code == 409
        assert response.json()["status"] == status
        assert error_code(response) == "state_conflict"
        assert f"({status})" in error_detail(response)
    campaign.refresh_from_db()
    assert campaign.subject != "New"


# --- List -----------------------------------------------------------------------------------


def test_list_filters_searches_orders_and_pins_its_queries(admin_client_api, django_assert_max_num_queries):
    segment = SegmentFactory(name="GB", countries=["GB"], membership=Membership.ALL, created_by=None)
    for index in range(12):
        CampaignFactory(
            subject=f"Spring {index}",
            segment=segment if index % 2 else None,
            status="SENT" if index % 3 == 0 else "DRAFT",
        )
    CampaignFactory(subject="Autumn")

    with django_assert_max_num_queries(4):
        everything = admin_client_api.get(LIST, {"page_size": 100})
    sent = admin_client_api.get(LIST, {"status": "SENT"})
    searched = admin_client_api.get(LIST, {"search": "autumn"})
    in_segment = admin_client_api.get(LIST, {"segment": segment.pk})
    ordered = admin_client_api.get(LIST, {"ordering": "subject"})

    assert everything.json()["count"] == 13
    assert sent.json()["count"] == 4
    assert [row["subject"] for row in searched.json()["results"]] == ["Autumn"]
    assert in_segment.json()["count"] == 6
    assert ordered.json()["results"][0]["subject"] == "Autumn"
    assert admin_client_api.get(LIST, {"status": "NOPE"}).status_code == 400


# --- Sending --------------------------------------------------------------------------------


def test_send_now_is_202_sending_and_a_second_click_is_a_409(admin_client_api, audience):
    audience(2)
    campaign = CampaignFactory()

    first = admin_client_api.post(detail(campaign, "send"), {})
    second = admin_client_api.post(detail(campaign, "send"), {})

    assert first.status_code == 202
    assert first.json()["status"] == "SENDING"
    assert second.status_code == 409
    assert second.json()["status"] == "SENDING"


def test_schedule_is_200_and_past_or_malformed_times_are_400(admin_client_api):
    campaign = CampaignFactory()
    when = timezone.now() + timedelta(hours=2)

    past = admin_client_api.post(detail(campaign, "send"), {"scheduled_at": "2001-01-01T00:00:00Z"})
    malformed = admin_client_api.post(detail(campaign, "send"), {"scheduled_at": "next tuesday"})
    scheduled = admin_client_api.post(detail(campaign, "send"), {"scheduled_at": when.isoformat()})

    assert past.status_code == 400
    assert "scheduled_at" in error_fields(past)
    assert malformed.status_code == 400
    assert "scheduled_at" in error_fields(malformed)
    assert scheduled.status_code == 200
    assert scheduled.json()["status"] == "SCHEDULED"
    campaign.refresh_from_db()
    assert campaign.scheduled_at == when


def test_state_actions_answer_409_from_the_wrong_state(admin_client_api):
    draft = CampaignFactory()

    for action in ("unschedule", "pause", "resume", "cancel"):
        response = admin_client_api.post(detail(draft, action))
        assert response.status_code == 409, action
        assert response.json()["status"] == "DRAFT"


def test_unschedule_pause_resume_cancel_follow_the_lifecycle(admin_client_api):
    scheduled = CampaignFactory(status=CampaignStatus.SCHEDULED, scheduled_at=timezone.now() + timedelta(days=1))
    sending = CampaignFactory(status=CampaignStatus.SENDING)

    assert admin_client_api.post(detail(scheduled, "unschedule")).json()["status"] == "DRAFT"
    assert admin_client_api.post(detail(sending, "pause")).json()["status"] == "PAUSED"
    assert admin_client_api.post(detail(sending, "resume")).json()["status"] == "SENDING"
    assert admin_client_api.post(detail(sending, "cancel")).json()["status"] == "CANCELLED"


def test_send_an_empty_audience_is_a_400(admin_client_api):
    campaign = CampaignFactory(target_segment="INACTIVE")

    response = admin_client_api.post(detail(campaign, "send"), {})

    assert response.status_code == 400
    assert "Nobody" in error_fields(response)["segment"][0]


def test_schedule_an_empty_audience_is_the_same_400(admin_client_api):
    campaign = CampaignFactory(target_segment="INACTIVE")

    response = admin_client_api.post(
        detail(campaign, "send"), {"scheduled_at": (timezone.now() + timedelta(days=1)).isoformat()}
    )

    assert response.status_code == 400
    assert (
        "Nobody in this audience can be emailed: No user matches “Inactive members”."
        in error_fields(response)["segment"]
    )
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_duplicate_answers_201_with_a_new_draft(admin_client_api, admin_user):
    original = CampaignFactory(name="Spring", status=CampaignStatus.SENT, recipients_total=5, recipient_count=5)

    response = admin_client_api.post(detail(original, "duplicate"))

    assert response.status_code == 201
    body = response.json()
    assert body["id"] != original.pk
    assert (body["name"], body["subject"], body["status"]) == ("Copy of Spring", f"Copy of {original.subject}", "DRAFT")
    assert (body["recipients_total"], body["recipient_count"], body["scheduled_at"]) == (0, 0, None)
    assert body["created_by"] == admin_user.email
    assert admin_client_api.post(f"{LIST}424242/duplicate/").status_code == 404


def test_the_name_is_optional_and_searchable(admin_client_api):
    named = admin_client_api.post(LIST, {**VALID, "name": "Autumn programme"}).json()
    unnamed = admin_client_api.post(LIST, VALID).json()

    assert named["name"] == "Autumn programme"
    assert unnamed["name"] == "Hello friend"
    found = admin_client_api.get(LIST, {"search": "autumn"}).json()["results"]
    assert [row["id"] for row in found] == [named["id"]]


# --- Test sends, previews, audience, recipients ---------------------------------------------------


def test_test_send_goes_now_marked_test_and_stays_out_of_the_ledger(admin_client_api, admin_user):
    campaign = CampaignFactory()

    response = admin_client_api.post(detail(campaign, "test"), {"emails": ["qa@example.com", "boss@example.com"]})

    assert response.status_code == 200
    assert response.json() == {"sent_to": ["qa@example.com", "boss@example.com"]}
    assert [message.to[0].split("<")[-1].rstrip(">") for message in mail.outbox] == [
        "qa@example.com",
        "boss@example.com",
    ]
    assert mail.outbox[0].subject.startswith("[TEST] ")
    assert f"Hello {admin_user.first_name}," in mail.outbox[0].alternatives[0][0]
    assert not CampaignRecipient.objects.exists()


def test_test_send_through_brevo_and_its_errors(admin_client_api, brevo):
    campaign = CampaignFactory()

    sent = admin_client_api.post(detail(campaign, "test"), {"emails": ["qa@example.com"]})
    brevo.fail_next(1, 500, path_prefix="smtp/email")
    unavailable = admin_client_api.post(detail(campaign, "test"), {"emails": ["qa@example.com"]})
    too_many = admin_client_api.post(detail(campaign, "test"), {"emails": [f"a{i}@example.com" for i in range(11)]})
    invalid = admin_client_api.post(detail(campaign, "test"), {"emails": ["not-an-address"]})

    assert sent.status_code == 200
    assert brevo.messages[0]["subject"].startswith("[TEST] ")
    assert unavailable.status_code == 503
    assert too_many.status_code == 400
    assert "emails" in error_fields(too_many)
    assert invalid.status_code == 400
    assert "emails.0" in error_fields(invalid)
    assert len(brevo.accepted_emails()) == 1


def test_preview_renders_for_a_user_or_with_sample_data(admin_client_api, make_user):
    user = make_user(first_name="Zoë", email="zoe@example.com")
    campaign = CampaignFactory()

    for_user = admin_client_api.get(detail(campaign, "preview"), {"user": user.pk})
    sample = admin_client_api.get(detail(campaign, "preview"))
    unknown = admin_client_api.get(detail(campaign, "preview"), {"user": 999999})

    assert for_user.status_code == 200
    assert for_user.json()["subject"].endswith("for Zoë")
    assert "Hello Zoë," in for_user.json()["html"]
    assert "zoe@example.com" in for_user.json()["text"]
    assert "Hello Alex," in sample.json()["html"]
    assert unknown.status_code == 400
    assert "user" in error_fields(unknown)


def test_audience_counts_reachable_users(admin_client_api, audience, make_user):
    audience(3)
    make_user(is_verified=False)
    campaign = CampaignFactory()

    assert admin_client_api.get(detail(campaign, "audience")).json() == {"reachable": 4}  # and the admin


def test_recipients_are_paged_by_cursor_and_filtered_by_status(
    admin_client_api, audience, django_assert_max_num_queries
):
    users = audience(5)
    campaign = CampaignFactory(status=CampaignStatus.SENT)
    for index, user in enumerate(users):
        CampaignRecipientFactory(
            campaign=campaign,
            user=user,
            email=user.email,
            status=RecipientStatus.FAILED if index == 2 else RecipientStatus.SENT,
        )

    with django_assert_max_num_queries(4):
        first = admin_client_api.get(detail(campaign, "recipients"), {"page_size": 2})
    second = admin_client_api.get(first.json()["next"])
    failed = admin_client_api.get(detail(campaign, "recipients"), {"status": "FAILED"})
    bad = admin_client_api.get(detail(campaign, "recipients"), {"status": "NOPE"})

    assert [row["email"] for row in first.json()["results"]] == [users[0].email, users[1].email]
    assert [row["email"] for row in second.json()["results"]] == [users[2].email, users[3].email]
    assert [row["email"] for row in failed.json()["results"]] == [users[2].email]
    assert bad.status_code == 400


def test_detail_counts_the_ledger(admin_client_api, audience):
    users = audience(3)
    campaign = CampaignFactory(status=CampaignStatus.SENDING)
    statuses = [RecipientStatus.SENT, RecipientStatus.PENDING, RecipientStatus.UNKNOWN]
    for user, status in zip(users, statuses, strict=True):
        CampaignRecipientFactory(campaign=campaign, user=user, email=user.email, status=status)

    stats = admin_client_api.get(detail(campaign)).json()["stats"]

    assert ledger_counts(stats) == {
        "recipients": 3,
        "pending": 1,
        "sending": 0,
        "sent": 1,
        "failed": 0,
        "unknown": 1,
        "cancelled": 0,
    }


def test_unknown_campaign_is_404(admin_client_api):
    assert admin_client_api.get(f"{LIST}424242/").status_code == 404
    assert admin_client_api.post(f"{LIST}424242/send/", {}).status_code == 404


def test_schema_documents_every_campaign_endpoint_and_its_errors(admin_client_api):
    schema = admin_client_api.get(reverse("schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]

    assert {"201", "400", "401", "403"} <= set(paths["/api/campaigns/"]["post"]["responses"])
    assert {"200", "400", "409", "404"} <= set(paths["/api/campaigns/{id}/"]["patch"]["responses"])
    assert {"200", "202", "400", "409"} <= set(paths["/api/campaigns/{id}/send/"]["post"]["responses"])
    assert {"201", "404"} <= set(paths["/api/campaigns/{id}/duplicate/"]["post"]["responses"])
    for action in ("unschedule", "pause", "resume", "cancel"):
        assert "409" in paths[f"/api/campaigns/{{id}}/{action}/"]["post"]["responses"]
    assert {"502", "503"} <= set(paths["/api/campaigns/{id}/test/"]["post"]["responses"])
    for action in ("preview", "audience", "recipients"):
        assert f"/api/campaigns/{{id}}/{action}/" in paths


def test_send_enqueues_the_start_job_after_commit(admin_client_api, audience, django_capture_on_commit_callbacks):
    audience(1)
    campaign = CampaignFactory()

    with django_capture_on_commit_callbacks(execute=True):
        admin_client_api.post(detail(campaign, "send"), {})

    jobs = django_rq.get_queue("default").jobs
    assert [(job.func_name, job.args) for job in jobs] == [("campaigns.jobs.campaign_start", (campaign.pk,))]


def test_schema_says_target_segment_is_the_membership_preset(admin_client_api):
    schema = admin_client_api.get(reverse("schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]

    for name in ("CampaignInputRequest", "Campaign", "CampaignDetail"):
        description = components[name]["properties"]["target_segment"]["description"]
        assert "membership preset" in description
        assert "not a saved segment" in description
