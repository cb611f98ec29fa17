"""Duplicating a campaign: from every status, a subject of one's own, a segment deleted since;
through the service, the API and the admin's action for several campaigns at once."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus
from campaigns.services import campaign_duplicate
from campaigns.tests.factories import CampaignFactory
from core.testing import error_fields
from segments.models import Membership
from segments.services import segment_delete
from segments.tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("status", CampaignStatus.values)
def test_every_status_copies_into_a_fresh_draft(status, admin_user):
    segment = SegmentFactory(name="Readers", membership=Membership.ACTIVE, created_by=None)
    now = timezone.now()
    original = CampaignFactory(
        name="Autumn",
        subject="Autumn news",
        status=status,
        segment=segment,
        target_segment=Membership.ACTIVE,
        from_name="Team",
        scheduled_at=now,
        started_at=now,
        sent_at=now,
        audience_frozen_at=now,
        recipients_total=7,
        recipient_count=7,
        status_reason="whatever happened to it",
    )

    result = campaign_duplicate(campaign=original, by=admin_user)

    copy = result.campaign
    assert result.notices == ()
    assert (copy.name, copy.subject, copy.status) == ("Copy of Autumn", "Copy of Autumn news", CampaignStatus.DRAFT)
    assert (copy.body_html, copy.from_name, copy.segment, copy.target_segment) == (
        original.body_html,
        "Team",
        segment,
        Membership.ACTIVE,
    )
    assert (copy.scheduled_at, copy.started_at, copy.sent_at, copy.audience_frozen_at) == (None, None, None, None)
    assert (copy.recipients_total, copy.recipient_count, copy.status_reason) == (0, 0, "")
    assert copy.created_by == admin_user
    original.refresh_from_db()
    assert original.status == status


def test_a_subject_given_replaces_the_prefixed_one(admin_user):
    original = CampaignFactory(name="Autumn", subject="Autumn news")

    copy = campaign_duplicate(campaign=original, by=admin_user, subject="Winter news for {{ first_name }}").campaign

    assert (copy.name, copy.subject) == ("Copy of Autumn", "Winter news for {{ first_name }}")


def test_a_long_subject_stays_within_the_column(admin_user):
    original = CampaignFactory(subject="x" * 255)

    copy = campaign_duplicate(campaign=original, by=admin_user).campaign

    assert copy.subject == ("Copy of " + "x" * 255)[:255]


def test_a_deleted_segment_leaves_the_preset_and_says_so(admin_user, admin_client_api):
    segment = SegmentFactory(name="Summer readers", membership=Membership.ACTIVE, created_by=None)
    original = CampaignFactory(status=CampaignStatus.SENT, segment=segment, target_segment=Membership.ACTIVE)
    segment_delete(segment=segment)
    original.refresh_from_db()
    assert (original.segment, original.deleted_segment_name) == (None, "Summer readers")

    response = admin_client_api.post(f"/api/campaigns/{original.pk}/duplicate/")

    assert response.status_code == 201
    body = response.json()
    assert (body["segment"], body["target_segment"], body["status"]) == (None, "ACTIVE", "DRAFT")
    assert body["notices"] == [
        "The segment “Summer readers” was deleted: the copy goes to all of “Active members”. "
        "Pick a segment before sending it if that is too wide."
    ]


def test_the_api_takes_a_subject_and_refuses_an_empty_one(admin_client_api):
    original = CampaignFactory(status=CampaignStatus.SENDING)

    given = admin_client_api.post(f"/api/campaigns/{original.pk}/duplicate/", {"subject": "Again"})
    empty = admin_client_api.post(f"/api/campaigns/{original.pk}/duplicate/", {"subject": ""})
    bad = admin_client_api.post(f"/api/campaigns/{original.pk}/duplicate/", {"subject": "{% load x %}"})

    assert (given.status_code, given.json()["subject"], given.json()["notices"]) == (201, "Again", [])
    assert empty.status_code == 400
    assert "subject" in error_fields(empty)
    assert bad.status_code == 400
    assert "Template tags are not allowed" in error_fields(bad)["subject"][0]


def test_the_admin_action_duplicates_several_campaigns(client: Client, admin_user):
    client.force_login(admin_user)
    segment = SegmentFactory(name="Gone soon", membership=Membership.ALL, created_by=None)
    sent = CampaignFactory(name="Sent one", status=CampaignStatus.SENT, segment=segment)
    draft = CampaignFactory(name="Draft one")
    segment_delete(segment=segment)

    response = client.post(
        reverse("admin:campaigns_campaign_changelist"),
        {"action": "duplicate_selected", "_selected_action": [sent.pk, draft.pk]},
    )

    assert response.status_code == 302
    copies = Campaign.objects.exclude(pk__in=[sent.pk, draft.pk])
    assert sorted(copies.values_list("name", "status")) == [
        ("Copy of Draft one", CampaignStatus.DRAFT),
        ("Copy of Sent one", CampaignStatus.DRAFT),
    ]
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert shown[0].startswith("2 draft(s) made: ")
    assert shown[1] == (
        "“Copy of Sent one”: The segment “Gone soon” was deleted: the copy goes to all of “All members”. "
        "Pick a segment before sending it if that is too wide."
    )
