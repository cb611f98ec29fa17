"""Follow-ups: `POST /api/campaigns/{id}/follow-up/`, the service behind it, and the admin's
"Follow up with..." buttons."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import MembershipStatus
from accounts.tests.factories import UserFactory
from campaigns.engagement import follow_up_sizes
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from campaigns.selectors import campaign_audience
from campaigns.services import campaign_follow_up
from campaigns.tests.engagement_history import generate_history
from campaigns.tests.factories import CampaignFactory, CampaignRecipientFactory
from core.testing import error_detail, error_fields
from segments.models import Membership, Segment
from segments.selectors import Criteria, criteria_counts
from segments.tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db

FIELD = {
    "not_opened": "not_opened_campaigns",
    "not_clicked": "not_clicked_campaigns",
    "opened": "opened_campaigns",
    "clicked": "clicked_campaigns",
}


def follow_up_url(campaign: Campaign) -> str:
    return f"/api/campaigns/{campaign.pk}/follow-up/"


def recipient(campaign: Campaign, user, *, opened: bool = False, clicked: bool = False) -> CampaignRecipient:
    now = timezone.now()
    return CampaignRecipientFactory(
        campaign=campaign,
        user=user,
        email=user.email,
        status=RecipientStatus.SENT,
        sent_at=now,
        first_opened_at=now if opened or clicked else None,
        first_clicked_at=now if clicked else None,
        last_engaged_at=now if opened or clicked else None,
    )


@pytest.fixture
def october():
    campaign = CampaignFactory(
        name="October",
        subject="October news for {{ first_name }}",
        preheader="What happened",
        from_email="club@example.com",
        from_name="The club",
        reply_to="help@example.com",
        status=CampaignStatus.SENT,
        started_at=timezone.now(),
    )
    people = {name: UserFactory(email=f"{name}@example.com") for name in ("ann", "bob", "cy", "di")}
    recipient(campaign, people["ann"], opened=True)
    recipient(campaign, people["bob"], clicked=True)
    recipient(campaign, people["cy"])
    recipient(campaign, people["di"])
    return campaign, people


def test_a_follow_up_is_a_segment_and_a_draft_copying_the_campaign(admin_client_api: APIClient, admin_user, october):
    campaign, _ = october

    answer = admin_client_api.post(follow_up_url(campaign), {"audience": "not_opened"}, format="json")

    assert answer.status_code == 201, answer.json()
    body = answer.json()
    draft = Campaign.objects.get(pk=body["id"])
    assert body["status"] == draft.status == CampaignStatus.DRAFT
    copied = ("subject", "preheader", "body_html", "body_text", "from_email", "from_name", "reply_to", "target_segment")
    assert {name: getattr(draft, name) for name in copied} == {name: getattr(campaign, name) for name in copied}
    assert draft.created_by == admin_user
    segment = draft.segment
    assert body["segment"] == segment.pk
    assert segment.name == "October — did not open"
    assert segment.extra_criteria == {"not_opened_campaigns": [campaign.pk]}
    assert sorted(user.email for user in campaign_audience(campaign=draft)) == ["cy@example.com", "di@example.com"]
    assert (segment.matching_count, segment.reachable_count) == (2, 2)


def test_the_subject_may_be_given(admin_client_api: APIClient, october):
    campaign, _ = october

    answer = admin_client_api.post(
        follow_up_url(campaign),
        {"audience": "clicked", "subject": "Thanks for reading, {{ first_name }}"},
        format="json",
    )

    assert answer.json()["subject"] == "Thanks for reading, {{ first_name }}"


@pytest.mark.parametrize("audience", list(FIELD))
def test_the_follow_ups_audience_is_the_criterions_audience(audience):
    history = generate_history(seed=11)
    by = UserFactory(role="ADMIN", is_verified=False)
    for campaign in history.campaigns:
        draft = campaign_follow_up(campaign=campaign, by=by, audience=audience)

        criterion = Criteria(extra={FIELD[audience]: [campaign.pk]})
        expected = history.expected({FIELD[audience]: [campaign.pk]}) & history.reachable
        found = {user.pk for user in campaign_audience(campaign=draft)}
        assert found == expected
        assert len(found) == criteria_counts(criterion).reachable == draft.segment.reachable_count
        assert follow_up_sizes(campaign=campaign)[audience] == len(found)


def test_the_campaigns_preset_and_segment_criteria_are_kept(admin_user, october):
    campaign, people = october
    londoners = SegmentFactory(
        name="Londoners", states=["London"], extra_criteria={}, membership=Membership.ALL, created_by=None
    )
    Campaign.objects.filter(pk=campaign.pk).update(segment=londoners, target_segment=Membership.ACTIVE)
    campaign.refresh_from_db()
    people["cy"].membership_status = MembershipStatus.INACTIVE
    people["cy"].save(update_fields=["membership_status"])
    people["di"].state = "Leeds"
    people["di"].save(update_fields=["state"])
    UserFactory(state="London")  # never received it

    draft = campaign_follow_up(campaign=campaign, by=admin_user, audience="not_clicked")

    segment = draft.segment
    assert (segment.states, segment.membership) == (["London"], Membership.ACTIVE)
    assert segment.extra_criteria == {"not_clicked_campaigns": [campaign.pk]}
    assert draft.target_segment == Membership.ACTIVE
    assert [user.email for user in campaign_audience(campaign=draft)] == ["ann@example.com"]


def test_a_follow_up_of_a_follow_up_reaches_those_who_opened_neither(admin_user, october, admin_client_api):
    first, people = october
    second = campaign_follow_up(campaign=first, by=admin_user, audience="not_opened")
    Campaign.objects.filter(pk=second.pk).update(status=CampaignStatus.SENT, started_at=timezone.now())
    second.refresh_from_db()
    recipient(second, people["cy"], opened=True)
    recipient(second, people["di"])
    # Somebody who never got the second one (say, unreachable then) and did not open the first.
    eve = UserFactory(email="eve@example.com")
    recipient(first, eve)

    third = campaign_follow_up(campaign=second, by=admin_user, audience="not_opened")

    assert third.segment.extra_criteria == {
        "not_opened_campaigns": sorted([first.pk, second.pk]),
        "received_campaigns": [second.pk],
    }
    assert [user.email for user in campaign_audience(campaign=third)] == ["di@example.com"]
    # Di opens the first campaign late: she did open one of them, so she leaves the audience.
    CampaignRecipient.objects.filter(campaign=first, user=people["di"]).update(first_opened_at=timezone.now())
    assert list(campaign_audience(campaign=third)) == []


def test_segment_names_stay_unique(admin_user, october):
    campaign, _ = october

    names = [campaign_follow_up(campaign=campaign, by=admin_user, audience="opened").segment.name for _ in range(3)]

    assert names == ["October — opened", "October — opened (2)", "October — opened (3)"]


@pytest.mark.parametrize("status", [CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.SENDING])
def test_a_campaign_still_to_send_or_sending_cannot_be_followed_up(admin_client_api: APIClient, status):
    campaign = CampaignFactory(status=status)

    answer = admin_client_api.post(follow_up_url(campaign), {"audience": "opened"}, format="json")

    assert answer.status_code == 409
    assert answer.json()["status"] == status
    assert f"Cannot follow up a campaign that is {CampaignStatus(status).label.lower()}" in error_detail(answer)
    assert not Segment.objects.exists()
    assert Campaign.objects.count() == 1


@pytest.mark.parametrize("status", [CampaignStatus.PAUSED, CampaignStatus.CANCELLED])
def test_a_paused_or_cancelled_campaign_can_be_followed_up(admin_client_api: APIClient, october, status):
    campaign, _ = october
    Campaign.objects.filter(pk=campaign.pk).update(status=status)

    assert admin_client_api.post(follow_up_url(campaign), {"audience": "opened"}, format="json").status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "audience"),
        ({"audience": "bounced"}, "audience"),
        ({"audience": "opened", "subject": ""}, "subject"),
        ({"audience": "opened", "subject": "x" * 256}, "subject"),
        ({"audience": "opened", "subject": "Hi {{ first_name"}, "subject"),
    ],
)
def test_bad_input_is_refused_naming_the_field(admin_client_api: APIClient, october, body, field):
    campaign, _ = october

    answer = admin_client_api.post(follow_up_url(campaign), body, format="json")

    assert answer.status_code == 400
    assert field in error_fields(answer)
    assert not Segment.objects.exists()
    assert Campaign.objects.count() == 1


def test_a_brevo_refusal_saves_nothing(admin_client_api: APIClient, october, fast_brevo: Any, settings):
    campaign, _ = october
    settings.BREVO_API_KEY = "wrong"

    answer = admin_client_api.post(follow_up_url(campaign), {"audience": "opened"}, format="json")

    assert answer.status_code == 502
    assert not Segment.objects.exists()
    assert Campaign.objects.count() == 1


def test_follow_ups_need_the_campaign_role(api_client: APIClient, manager_user, october):
    campaign, _ = october
    assert api_client.post(follow_up_url(campaign), {"audience": "opened"}, format="json").status_code == 401
    api_client.force_authenticate(manager_user)
    assert api_client.post(follow_up_url(campaign), {"audience": "opened"}, format="json").status_code == 403


def test_openapi_schema_describes_the_follow_up(admin_client_api: APIClient):
    schema = admin_client_api.get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/campaigns/{id}/follow-up/"]["post"]
    assert {"201", "400", "409", "404"} <= set(operation["responses"])


# --- the admin ---------------------------------------------------------------------------------


def test_a_sent_campaigns_page_offers_each_follow_up_with_its_size(admin_client: Client, october):
    campaign, people = october
    Campaign.objects.filter(pk=campaign.pk).update(audience_frozen_at=timezone.now())
    people["di"].email_opted_out_at = timezone.now()
    people["di"].save(update_fields=["email_opted_out_at"])

    page = admin_client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()

    assert "Follow up with…" in page
    for audience, label in (("not_opened", "Did not open (1)"), ("not_clicked", "Did not click (2)")):
        assert f'id="follow-up-{audience}" value="{label}"' in page
    assert 'id="follow-up-opened" value="Opened (2)"' in page
    assert 'id="follow-up-clicked" value="Clicked (1)"' in page


def test_a_drafts_page_offers_no_follow_up(admin_client: Client):
    draft = CampaignFactory(status=CampaignStatus.DRAFT)

    page = admin_client.get(reverse("admin:campaigns_campaign_change", args=[draft.pk])).content.decode()

    assert "Follow up with" not in page


def test_the_follow_up_button_makes_the_draft_and_opens_it(admin_client: Client, october):
    campaign, _ = october

    answer = admin_client.post(
        reverse("admin:campaigns_campaign_follow_up", args=[campaign.pk]), {"audience": "opened"}
    )

    draft = Campaign.objects.get(status=CampaignStatus.DRAFT)
    assert answer.status_code == 302
    assert answer["Location"] == reverse("admin:campaigns_campaign_change", args=[draft.pk])
    page = admin_client.get(answer["Location"]).content.decode()
    assert "Follow-up draft “October — follow-up: opened” made" in page


def test_a_refused_follow_up_comes_back_with_the_reason(admin_client: Client):
    sending = CampaignFactory(status=CampaignStatus.SENDING)

    answer = admin_client.post(
        reverse("admin:campaigns_campaign_follow_up", args=[sending.pk]), {"audience": "opened"}, follow=True
    )

    assert "Cannot follow up a campaign that is sending" in answer.content.decode()
    assert Campaign.objects.count() == 1
