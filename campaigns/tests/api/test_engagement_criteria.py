"""Engagement criteria through the segments API: create, update, previews, validation naming the
field, and deleting a campaign that criteria name."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from campaigns.models import Campaign, CampaignStatus, RecipientStatus
from campaigns.tests.factories import CampaignFactory, CampaignRecipientFactory
from core.testing import error_code, error_detail, error_fields
from segments.models import Segment

pytestmark = pytest.mark.django_db

SEGMENTS = "/api/segments/"
ENGAGEMENT_FIELDS = (
    "received_campaigns",
    "opened_campaigns",
    "clicked_campaigns",
    "not_opened_campaigns",
    "not_clicked_campaigns",
    "engaged_within_days",
    "not_engaged_within_days",
)


def row(campaign: Campaign, user, *, opened: bool = False, clicked: bool = False, machine: bool = False, **values):
    now = timezone.now()
    return CampaignRecipientFactory(
        campaign=campaign,
        user=user,
        email=user.email,
        status=values.pop("status", RecipientStatus.SENT),
        sent_at=now - timedelta(days=2),
        first_opened_at=now - timedelta(days=1) if opened or clicked else None,
        first_clicked_at=now - timedelta(days=1) if clicked else None,
        last_engaged_at=now - timedelta(days=1) if opened or clicked else None,
        first_machine_opened_at=now - timedelta(days=1) if machine else None,
        **values,
    )


@pytest.fixture
def sent():
    """A sent campaign: Ann opened it, Bob was opened only by a proxy, Cy clicked, Di never opened."""
    campaign = CampaignFactory(subject="October news", status=CampaignStatus.SENT, started_at=timezone.now())
    people = {name: UserFactory(email=f"{name}@example.com") for name in ("ann", "bob", "cy", "di", "ed")}
    row(campaign, people["ann"], opened=True)
    row(campaign, people["bob"], machine=True)
    row(campaign, people["cy"], clicked=True)
    row(campaign, people["di"])
    row(campaign, people["ed"], status=RecipientStatus.FAILED)
    return campaign, people


def test_create_a_segment_of_people_who_did_not_open(admin_client_api: APIClient, sent):
    campaign, _ = sent

    answer = admin_client_api.post(
        SEGMENTS, {"name": "Did not open October", "not_opened_campaigns": [campaign.pk]}, format="json"
    )

    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["not_opened_campaigns"] == [campaign.pk]
    assert body["opened_campaigns"] == []
    assert body["engaged_within_days"] is None
    # Bob's only opens were a proxy's; Ed's mail was never accepted, so he did not receive it.
    assert (body["matching_count"], body["reachable_count"]) == (2, 2)
    segment = Segment.objects.get(pk=body["id"])
    assert segment.extra_criteria == {"not_opened_campaigns": [campaign.pk]}


def test_every_segment_shows_every_engagement_field(admin_client_api: APIClient):
    answer = admin_client_api.post(SEGMENTS, {"name": "Londoners", "states": ["London"]}, format="json")

    body = admin_client_api.get(f"{SEGMENTS}{answer.json()['id']}/").json()
    assert {name: body[name] for name in ENGAGEMENT_FIELDS} == {
        **{name: [] for name in ENGAGEMENT_FIELDS[:5]},
        "engaged_within_days": None,
        "not_engaged_within_days": None,
    }


def test_patch_keeps_engagement_criteria_not_sent_and_put_clears_them(admin_client_api: APIClient, sent):
    campaign, _ = sent
    created = admin_client_api.post(
        SEGMENTS,
        {"name": "Openers", "opened_campaigns": [campaign.pk], "engaged_within_days": 30},
        format="json",
    ).json()
    url = f"{SEGMENTS}{created['id']}/"

    patched = admin_client_api.patch(url, {"name": "October openers", "engaged_within_days": None}, format="json")

    assert patched.status_code == 200, patched.json()
    assert (patched.json()["opened_campaigns"], patched.json()["engaged_within_days"]) == ([campaign.pk], None)
    assert patched.json()["matching_count"] == 2
    replaced = admin_client_api.put(url, {"name": "Londoners", "states": ["London"]}, format="json")
    assert replaced.json()["opened_campaigns"] == []
    assert Segment.objects.get(pk=created["id"]).extra_criteria == {}


def test_preview_of_unsaved_and_saved_engagement_criteria(admin_client_api: APIClient, sent):
    campaign, _ = sent

    unsaved = admin_client_api.post(f"{SEGMENTS}preview/", {"clicked_campaigns": [campaign.pk]}, format="json")

    assert unsaved.status_code == 200, unsaved.json()
    assert [user["email"] for user in unsaved.json()["results"]] == ["cy@example.com"]
    segment = admin_client_api.post(
        SEGMENTS, {"name": "Received", "received_campaigns": [campaign.pk]}, format="json"
    ).json()
    saved = admin_client_api.get(f"{SEGMENTS}{segment['id']}/preview/").json()
    assert sorted(user["email"] for user in saved["results"]) == [
        f"{name}@example.com" for name in ["ann", "bob", "cy", "di"]
    ]
    assert saved["matching_count"] == 4


def test_engagement_criteria_combine_with_the_engines_own(admin_client_api: APIClient, sent):
    campaign, people = sent
    people["ann"].country = "FR"
    people["ann"].save(update_fields=["country"])

    answer = admin_client_api.post(
        f"{SEGMENTS}preview/", {"opened_campaigns": [campaign.pk], "countries": ["GB"]}, format="json"
    )

    assert [user["email"] for user in answer.json()["results"]] == ["cy@example.com"]


@pytest.mark.parametrize(
    ("criteria", "field", "says"),
    [
        ({"opened_campaigns": [999999]}, "opened_campaigns", "No such campaigns: 999999."),
        ({"received_campaigns": ["draft"]}, "received_campaigns", "never sent"),
        ({"not_clicked_campaigns": ["scheduled"]}, "not_clicked_campaigns", "never sent"),
        ({"engaged_within_days": 0}, "engaged_within_days", "greater than or equal to 1"),
        ({"not_engaged_within_days": 3651}, "not_engaged_within_days", "less than or equal to 3650"),
        ({"opened_campaigns": ["sent"], "not_opened_campaigns": ["sent"]}, "not_opened_campaigns", "never match"),
        ({"clicked_campaigns": ["sent"], "not_clicked_campaigns": ["sent"]}, "not_clicked_campaigns", "never match"),
        ({"clicked_campaigns": ["sent"], "not_opened_campaigns": ["sent"]}, "not_opened_campaigns", "never match"),
        ({"opened_campaigns": "12"}, "opened_campaigns", "list"),
        ({"engaged_within_days": "soon"}, "engaged_within_days", "integer"),
    ],
)
def test_invalid_engagement_criteria_are_refused_naming_the_field(
    admin_client_api: APIClient, sent, criteria, field, says
):
    campaign, _ = sent
    ids = {
        "sent": campaign.pk,
        "draft": CampaignFactory(status=CampaignStatus.DRAFT).pk,
        "scheduled": CampaignFactory(status=CampaignStatus.SCHEDULED).pk,
    }
    criteria = {
        name: [ids.get(value, value) for value in values] if isinstance(values, list) else values
        for name, values in criteria.items()
    }

    for url, extra in ((SEGMENTS, {"name": "Bad"}), (f"{SEGMENTS}preview/", {})):
        answer = admin_client_api.post(url, {**extra, **criteria}, format="json")

        assert answer.status_code == 400, answer.json()
        assert says in " ".join(error_fields(answer)[field])
    assert not Segment.objects.exists()


def test_deleting_a_campaign_named_by_criteria_is_refused_naming_the_segments(admin_client_api: APIClient, sent):
    campaign, _ = sent
    for name, field in (("Openers", "opened_campaigns"), ("Silent", "not_clicked_campaigns")):
        admin_client_api.post(SEGMENTS, {"name": name, field: [campaign.pk]}, format="json")
    # Named criteria only name campaigns that began sending; even a draft named by hand is kept.
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.DRAFT)

    answer = admin_client_api.delete(f"/api/campaigns/{campaign.pk}/")

    assert answer.status_code == 409
    body = answer.json()
    assert error_code(answer) == "state_conflict"
    assert "“Openers”" in error_detail(answer)
    assert "“Silent”" in error_detail(answer)
    assert sorted(body["segments"]) == sorted(Segment.objects.values_list("pk", flat=True))
    assert Campaign.objects.filter(pk=campaign.pk).exists()


def test_a_campaign_no_criteria_name_is_deleted_as_before(admin_client_api: APIClient, sent):
    campaign, _ = sent
    admin_client_api.post(SEGMENTS, {"name": "Openers", "opened_campaigns": [campaign.pk]}, format="json")
    draft = CampaignFactory(status=CampaignStatus.DRAFT)

    assert admin_client_api.delete(f"/api/campaigns/{draft.pk}/").status_code == 204


def test_openapi_schema_describes_the_engagement_criteria(admin_client_api: APIClient):
    schema = admin_client_api.get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]

    for name in ("SegmentInputRequest", "PatchedSegmentInputRequest", "CriteriaRequest", "Segment"):
        assert set(ENGAGEMENT_FIELDS) <= set(schema[name]["properties"]), name
    assert schema["CriteriaRequest"]["properties"]["opened_campaigns"]["items"]["type"] == "integer"
