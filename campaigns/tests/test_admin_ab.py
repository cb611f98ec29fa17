"""The campaign page's A/B test: variants and settings edited inline in a draft through the
campaign's services (errors on the field at fault), read only after; each variant's preview and
test send; the results table with the winner's reason, and "Pick this winner" while waiting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, CampaignVariant, RecipientStatus
from campaigns.services import campaign_decide_winner
from campaigns.services.lifecycle import EDITABLE_FIELDS
from campaigns.services.variants import VARIANT_FIELDS
from campaigns.tests.factories import CampaignFactory
from campaigns.tests.test_admin import action_url, change_url, messages_of

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def page_data(campaign: Campaign, variants: list[dict[str, str]], **changes: Any) -> dict[str, Any]:
    """The change form as a browser posts it: the campaign's fields and the variant rows."""
    data: dict[str, Any] = {}
    for name in EDITABLE_FIELDS:
        value = getattr(campaign, name)
        if name in ("segment", "layout"):
            value = getattr(campaign, f"{name}_id") or ""
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        data[name] = "" if value is None else value
    data.update(changes)
    stored = list(campaign.variants.order_by("label"))
    data.update(
        {
            "variants-TOTAL_FORMS": str(len(variants)),
            "variants-INITIAL_FORMS": str(len(stored)),
            "variants-MIN_NUM_FORMS": "0",
            "variants-MAX_NUM_FORMS": "4",
        }
    )
    for index, variant in enumerate(variants):
        if index < len(stored):
            data[f"variants-{index}-id"] = str(stored[index].pk)
        data[f"variants-{index}-campaign"] = str(campaign.pk)
        for name, value in variant.items():
            data[f"variants-{index}-{name}"] = value
    return data


def test_a_draft_offers_the_settings_and_two_lettered_variant_rows(admin_client):
    campaign = CampaignFactory()

    html = admin_client.get(change_url(campaign)).content.decode()

    assert "5. A/B test (optional)" in html
    assert 'name="ab_wait_minutes" value="240"' in html
    assert 'name="variants-0-subject"' in html
    assert 'name="variants-1-subject"' in html
    assert '<option value="A" selected>' in html
    assert '<option value="B" selected>' in html
    assert "6. Send or schedule" in html


def test_variants_and_settings_are_saved_through_the_service(admin_client):
    campaign = CampaignFactory(subject="Autumn news")
    rows = [{"label": "A"}, {"label": "B", "subject": "Hi {{ first_name }}, autumn is here", "from_name": "Ana"}]

    data = page_data(campaign, rows, ab_test_share="30", ab_winner_metric="clicks", ab_wait_minutes="90")
    del data["ab_require_significance"]  # the box unticked

    response = admin_client.post(change_url(campaign), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    campaign.refresh_from_db()
    assert (campaign.ab_test_share, campaign.ab_winner_metric, campaign.ab_wait_minutes) == (30, "clicks", 90)
    assert not campaign.ab_require_significance
    assert list(campaign.variants.values_list("label", "subject", "from_name")) == [
        ("A", "", ""),
        ("B", "Hi {{ first_name }}, autumn is here", "Ana"),
    ]

    # B is removed, and a row added in the browser without a letter takes the first free one.
    stored = {variant["label"]: variant for variant in campaign.variants.values("label", *VARIANT_FIELDS)}
    rows = [{**stored["A"]}, {**stored["B"], "DELETE": "on"}, {"label": "", "preheader": "Only three days left"}]
    response = admin_client.post(change_url(campaign), page_data(campaign, rows))
    assert response.status_code == 302
    assert list(campaign.variants.values_list("label", "preheader")) == [("A", ""), ("B", "Only three days left")]


def test_a_variants_mistake_is_shown_on_its_field_and_nothing_is_written(admin_client):
    campaign = CampaignFactory()
    rows = [{"label": "A"}, {"label": "B", "subject": "Hi {% include 'x.html' %}"}]

    response = admin_client.post(change_url(campaign), page_data(campaign, rows, subject="Changed"))

    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.forms[1].errors
    assert "{% include %}" in errors["subject"][0]
    assert "{% include %}" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.subject != "Changed"
    assert not campaign.variants.exists()


def test_a_single_variant_or_two_alike_are_refused_above_or_on_the_rows_and_untouched_rows_are_no_test(admin_client):
    campaign = CampaignFactory()

    one = admin_client.post(change_url(campaign), page_data(campaign, [{"label": "A", "subject": "Hello"}]))
    alike = [{"label": "A", "subject": "Hello"}, {"label": "B", "subject": "Hello"}]
    twins = admin_client.post(change_url(campaign), page_data(campaign, alike))
    untouched = admin_client.post(change_url(campaign), page_data(campaign, [{"label": "A"}, {"label": "B"}]))

    assert one.status_code == twins.status_code == 200
    assert "An A/B test has 2 to 4 variants." in one.context["inline_admin_formsets"][0].formset.non_form_errors()
    assert twins.context["inline_admin_formsets"][0].formset.forms[1].non_field_errors() == [
        "Same content as variant A."
    ]
    assert untouched.status_code == 302  # rows left as offered: no A/B test, and no complaint
    assert not campaign.variants.exists()


def test_a_new_campaign_can_be_an_ab_test_from_the_start(admin_client):
    response = admin_client.post(
        reverse("admin:campaigns_campaign_add"),
        {
            "subject": "Hello",
            "body_html": "<p>Hello</p>",
            "target_segment": "ALL",
            "ab_test_share": "20",
            "ab_winner_metric": "opens",
            "ab_wait_minutes": "240",
            "ab_require_significance": "on",
            "variants-TOTAL_FORMS": "2",
            "variants-INITIAL_FORMS": "0",
            "variants-0-label": "A",
            "variants-1-label": "B",
            "variants-1-body_html": "<p>Hello, with a picture</p>",
        },
    )

    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    campaign = Campaign.objects.get()
    assert list(campaign.variants.values_list("label", "body_html")) == [
        ("A", ""),
        ("B", "<p>Hello, with a picture</p>"),
    ]


def ab_campaign(**values: Any) -> Campaign:
    campaign = CampaignFactory(subject="Autumn news", **values)
    CampaignVariant.objects.create(campaign=campaign, label="A")
    CampaignVariant.objects.create(campaign=campaign, label="B", subject="Autumn is here, {{ first_name }}")
    return campaign


def test_live_preview_and_test_send_of_a_variant_row(admin_client, admin_user):
    campaign = ab_campaign()
    page = {
        "campaign_id": str(campaign.pk),
        "subject": "Autumn news",
        "body_html": "<p>Hello {{ first_name }}</p>",
        "variant-label": "B",
        "variant-subject": "Autumn is here, {{ first_name }}",
        "variant-from_name": "Ana from the club",
    }

    preview = admin_client.post(reverse("admin:campaigns_campaign_preview"), page).json()
    sent = admin_client.post(reverse("admin:campaigns_campaign_test_draft"), {**page, "emails": "me@example.com"})
    wrong = admin_client.post(reverse("admin:campaigns_campaign_preview"), {**page, "variant-subject": "{{ x"})

    assert preview["subject"].startswith("Autumn is here")
    assert "Hello" in preview["html"]  # the campaign's body, which the variant leaves as it is
    assert preview["sender"].startswith("Ana from the club")
    assert sent.json()["message"] == "Test of variant B sent to me@example.com."
    assert mail.outbox[-1].subject.startswith("[TEST] Autumn is here")
    assert wrong.status_code == 400


def test_after_the_draft_variants_are_read_only_and_each_is_previewed(admin_client):
    campaign = ab_campaign(status=CampaignStatus.SENDING, audience_frozen_at=NOW)

    html = admin_client.get(change_url(campaign)).content.decode()

    assert 'name="variants-0-subject"' not in html
    assert 'name="ab_test_share"' not in html
    assert "20 % of the audience split evenly among A, B" in html
    assert 'id="ab-preview-B"' in html
    assert "Autumn is here" in html
    assert 'id="ab-results"' in html


def ledger(campaign: Campaign, label: str | None, *, delivered: int, opened: int = 0, clicked: int = 0) -> None:
    """Sent rows of a variant (None: the remainder, held) with their tracking as Brevo reported it."""
    rows = []
    for index in range(delivered if label else 10):
        rows.append(
            CampaignRecipient(
                campaign=campaign,
                email=f"{label or 'rest'}{index}@example.com",
                variant=label,
                ab_remainder=label is None,
                status=RecipientStatus.SENT if label else RecipientStatus.HELD,
                delivered_at=NOW if label else None,
                first_opened_at=NOW if index < opened else None,
                first_machine_opened_at=NOW if label and index >= opened and index % 2 else None,
                first_clicked_at=NOW if index < clicked else None,
            )
        )
    CampaignRecipient.objects.bulk_create(rows)


def waiting(**values: Any) -> Campaign:
    campaign = ab_campaign(
        status=CampaignStatus.WAITING_FOR_WINNER,
        audience_frozen_at=NOW,
        started_at=NOW,
        ab_decide_at=NOW + timedelta(hours=3),
        **values,
    )
    ledger(campaign, "A", delivered=200, opened=20, clicked=4)
    ledger(campaign, "B", delivered=200, opened=44, clicked=9)
    ledger(campaign, None, delivered=0)
    return campaign


def test_the_results_table_while_waiting_and_picking_a_winner(admin_client, admin_user):
    campaign = waiting()

    html = admin_client.get(change_url(campaign)).content.decode()

    assert "Test share sent; the winner is decided" in html
    # The live progress says when the decision is due, and polls while the campaign waits.
    assert '<div data-progress="decision"><dt>A/B winner decided</dt>' in html
    assert 'data-live="true" data-status="WAITING_FOR_WINNER"' in html
    assert 'id="ab-waiting"' in html
    row_b = html.split('id="ab-variant-B"')[1].split("</tr>")[0]
    assert "<td>200</td>" in row_b  # recipients, sent
    assert "44 <span" in row_b
    assert "(22.0 %)" in row_b
    assert "9 <span" in row_b
    assert "(4.5 %)" in row_b
    assert 'id="ab-pick-A"' in html
    assert 'id="ab-pick-B"' in html
    assert "Waits for the winner" in html.split('id="ab-remainder"')[1]

    response = admin_client.post(action_url(campaign, "pick_winner"), {"variant": "B"})

    assert messages_of(response) == ["Variant B picked as the winner: the remaining recipients are being sent it."]
    campaign.refresh_from_db()
    assert (campaign.status, campaign.ab_winner) == (CampaignStatus.SENDING, "B")
    html = admin_client.get(change_url(campaign)).content.decode()
    assert "Variant B won" in html
    assert f"by {admin_user.email}" in html
    assert "picked by staff" in html
    assert html.split('id="ab-variant-B"')[1].startswith(' class="ab-winner"')
    assert 'id="ab-pick-B"' not in html

    again = admin_client.post(action_url(campaign, "pick_winner"), {"variant": "A"})
    assert "(SENDING)" in messages_of(again)[-1]
    assert Campaign.objects.get(pk=campaign.pk).ab_winner == "B"


def test_picking_a_variant_the_test_does_not_have_is_refused_with_a_message(admin_client):
    campaign = waiting()

    response = admin_client.post(action_url(campaign, "pick_winner"), {"variant": "D"})

    assert response.status_code == 302
    assert messages_of(response) == ["Choose one of A, B."]
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.WAITING_FOR_WINNER


def test_the_automatic_decision_is_shown_with_its_p_value_and_rule(admin_client):
    campaign = waiting()
    Campaign.objects.filter(pk=campaign.pk).update(ab_decide_at=NOW - timedelta(minutes=1))

    assert campaign_decide_winner(campaign_id=campaign.pk)
    html = admin_client.get(change_url(campaign)).content.decode()

    assert "Variant B won" in html
    assert "Rule applied: significant difference (two-proportion test, p &lt; 0.05); p-value 0.00" in html
    assert "Decided automatically" in html
    assert "The remaining 10 recipients are sent variant B." in html
