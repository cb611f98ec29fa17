"""A/B variants through the API: written with the campaign, checked like its content, shown with
their counts, copied by a duplicate, frozen once the draft is sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Campaign, CampaignStatus, CampaignVariant
from campaigns.tests.factories import CampaignFactory, CampaignRecipientFactory
from core.testing import error_fields

pytestmark = pytest.mark.django_db

LIST = "/api/campaigns/"
BODY = '<p>Hi {{ first_name }}</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
AB = {
    "subject": "Spring news",
    "body_html": BODY,
    "ab_test_share": 20,
    "ab_winner_metric": "clicks",
    "ab_wait_minutes": 60,
    "variants": [{}, {"subject": "Spring news for {{ first_name | default:'you' }}", "from_name": "Ana"}],
}


def detail(campaign_id: int, action: str = "") -> str:
    return f"{LIST}{campaign_id}/{action + '/' if action else ''}"


def test_create_writes_variants_labelled_by_position(admin_client_api: APIClient):
    response = admin_client_api.post(LIST, AB, format="json")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert [variant["label"] for variant in data["variants"]] == ["A", "B"]
    assert data["variants"][0]["subject"] == ""  # inherits the campaign's
    assert data["variants"][1]["from_name"] == "Ana"
    assert data["ab_test_share"] == 20
    assert data["ab_winner_metric"] == "clicks"
    assert data["ab_wait_minutes"] == 60
    assert data["ab_require_significance"] is True
    assert data["ab_decision"] is None
    assert data["ab_remainder"]["stats"]["recipients"] == 0
    assert data["variants"][1]["stats"]["recipients"] == 0
    assert CampaignVariant.objects.filter(campaign_id=data["id"]).count() == 2


def test_a_campaign_without_variants_shows_none(admin_client_api: APIClient):
    response = admin_client_api.post(LIST, {"subject": "Plain", "body_html": BODY}, format="json")

    assert response.json()["variants"] == []
    assert response.json()["ab_remainder"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"), [("ab_wait_minutes", 0), ("ab_wait_minutes", 30 * 24 * 60 + 1), ("ab_test_share", 1)]
)
def test_ab_settings_out_of_range_are_400_naming_the_field(admin_client_api: APIClient, field, value):
    response = admin_client_api.post(LIST, {**AB, field: value}, format="json")

    assert response.status_code == 400
    assert field in error_fields(response), response.json()
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    ("variants", "field"),
    [
        ([{}, {"subject": "Hi {{ nickname }}"}], "variants[1].subject"),
        ([{}, {"body_html": "{% if x %}"}], "variants[1].body_html"),
        ([{}, {"subject": "x" * 256}], "variants[1].subject"),
        ([{"label": "A"}, {"label": "A", "subject": "Other"}], "variants[1].label"),
        ([{"label": "A"}, {"label": "E", "subject": "Other"}], "variants[1].label"),
        ([{"label": "B"}, {"label": "C", "subject": "Other"}], "variants"),
        ([{}], "variants"),
        ([{}, {"subject": "1"}, {"subject": "2"}, {"subject": "3"}, {"subject": "4"}], "variants"),
        ([{}, {}], "variants[1]"),
    ],
)
def test_bad_variants_are_400_naming_the_field(admin_client_api: APIClient, variants, field):
    response = admin_client_api.post(LIST, {**AB, "variants": variants}, format="json")

    assert response.status_code == 400
    assert field in error_fields(response), response.json()
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ab_test_share": 1}, "ab_test_share"),
        ({"ab_test_share": 101}, "ab_test_share"),
        ({"ab_wait_minutes": 0}, "ab_wait_minutes"),
        ({"ab_winner_metric": "sales"}, "ab_winner_metric"),
    ],
)
def test_bad_settings_are_400_naming_the_field(admin_client_api: APIClient, changes, field):
    response = admin_client_api.post(LIST, {**AB, **changes}, format="json")

    assert response.status_code == 400
    assert field in error_fields(response)


def test_patch_replaces_the_variants_and_checks_kept_ones_against_new_content(admin_client_api: APIClient):
    campaign_id = admin_client_api.post(LIST, AB, format="json").json()["id"]

    three = [{}, {"subject": "B!"}, {"subject": "C!", "preheader": "Only C"}]
    response = admin_client_api.patch(detail(campaign_id), {"variants": three}, format="json")
    assert response.status_code == 200
    assert [variant["label"] for variant in response.json()["variants"]] == ["A", "B", "C"]

    # Variant A inherits the body: an empty body leaves it (and the campaign) without one.
    response = admin_client_api.patch(detail(campaign_id), {"body_html": ""}, format="json")
    assert response.status_code == 400
    assert "body_html" in error_fields(response)

    assert admin_client_api.patch(detail(campaign_id), {"variants": []}, format="json").json()["variants"] == []


def test_variants_are_edited_only_in_draft(admin_client_api: APIClient):
    campaign_id = admin_client_api.post(LIST, AB, format="json").json()["id"]
    Campaign.objects.filter(pk=campaign_id).update(status=CampaignStatus.SENDING)

    response = admin_client_api.patch(detail(campaign_id), {"variants": [{}, {"subject": "Late"}]}, format="json")

    assert response.status_code == 409
    assert CampaignVariant.objects.get(campaign_id=campaign_id, label="B").subject.startswith("Spring news for")


def test_duplicate_copies_variants_and_settings_never_the_decision(admin_client_api: APIClient):
    campaign_id = admin_client_api.post(LIST, AB, format="json").json()["id"]
    Campaign.objects.filter(pk=campaign_id).update(
        status=CampaignStatus.SENT, ab_winner="B", ab_decision={"winner": "B"}
    )

    copy = admin_client_api.post(detail(campaign_id, "duplicate"), {}, format="json").json()

    assert [(variant["label"], variant["from_name"]) for variant in copy["variants"]] == [("A", ""), ("B", "Ana")]
    assert (copy["ab_test_share"], copy["ab_winner_metric"], copy["ab_wait_minutes"]) == (20, "clicks", 60)
    assert copy["ab_winner"] == ""
    assert copy["ab_decision"] is None


def test_detail_counts_each_variants_test_rows_apart_from_the_remainder(admin_client_api: APIClient):
    campaign = CampaignFactory(status=CampaignStatus.SENT, ab_test_share=50)
    CampaignVariant.objects.create(campaign=campaign, label="A")
    CampaignVariant.objects.create(campaign=campaign, label="B", subject="Other")
    delivered = {"status": "SENT", "delivered_at": "2026-01-01T00:00:00Z"}
    CampaignRecipientFactory(campaign=campaign, variant="A", **delivered, first_opened_at="2026-01-01T01:00:00Z")
    CampaignRecipientFactory(campaign=campaign, variant="A", **delivered, first_machine_opened_at="2026-01-01T01:00Z")
    CampaignRecipientFactory(campaign=campaign, variant="B", **delivered, first_clicked_at="2026-01-01T01:00:00Z")
    CampaignRecipientFactory(campaign=campaign, variant="B", ab_remainder=True, **delivered)

    data = admin_client_api.get(detail(campaign.pk)).json()

    a, b = data["variants"]
    assert (a["stats"]["recipients"], a["stats"]["opened"], a["stats"]["machine_opened"]) == (2, 1, 1)
    assert a["rates"]["open_rate"] == 0.5
    assert (b["stats"]["recipients"], b["stats"]["clicked"], b["rates"]["click_rate"]) == (1, 1, 1.0)
    assert data["ab_remainder"]["stats"]["recipients"] == 1


def test_preview_and_test_send_take_a_variant(admin_client_api: APIClient, mailoutbox):
    campaign_id = admin_client_api.post(LIST, AB, format="json").json()["id"]

    preview = admin_client_api.get(detail(campaign_id, "preview"), {"variant": "B"})
    assert preview.status_code == 200
    assert preview.json()["subject"] == "Spring news for Alex"
    assert admin_client_api.get(detail(campaign_id, "preview")).json()["subject"] == "Spring news"
    unknown = admin_client_api.get(detail(campaign_id, "preview"), {"variant": "C"})
    assert unknown.status_code == 400
    assert "variant" in error_fields(unknown)

    sent = admin_client_api.post(
        detail(campaign_id, "test"), {"emails": ["qa@example.com"], "variant": "B"}, format="json"
    )
    assert sent.status_code == 200, sent.json()
    assert mailoutbox[-1].subject.startswith("[TEST] Spring news for ")
    assert mailoutbox[-1].from_email.startswith("Ana")


def test_progress_says_when_the_winner_is_decided(admin_client_api: APIClient):
    due = timezone.now() + timedelta(hours=2)
    campaign = CampaignFactory(status=CampaignStatus.WAITING_FOR_WINNER, ab_decide_at=due)

    progress = admin_client_api.get(f"{detail(campaign.pk)}progress/").json()

    assert progress["status"] == "WAITING_FOR_WINNER"
    assert progress["live"] is True
    assert progress["ab_decide_at"] is not None
    assert progress["note"].startswith("Test sent; the A/B winner is decided at ")
