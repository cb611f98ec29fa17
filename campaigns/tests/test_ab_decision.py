"""The A/B decision: the rule on constructed tracking data, stored once, staff's pick through the
API, and the pick racing the automatic decision (one wins, decided in the database)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Campaign, CampaignStatus, CampaignVariant, RecipientStatus
from campaigns.services import campaign_decide_winner, campaign_pick_winner
from campaigns.services.ab_tests import VariantResult, ab_decide, two_proportion_p_value
from campaigns.tests.factories import CampaignFactory, CampaignRecipientFactory
from core.errors import StateConflictError
from core.testing import error_fields

NOW = timezone.now()


def test_the_two_proportion_test_matches_the_textbook():
    # 12 % of 1,000 against 9 % of 1,000: z = 2.188, two-sided p = 0.0287.
    p = two_proportion_p_value(VariantResult("A", 1000, 120), VariantResult("B", 1000, 90))
    assert p == pytest.approx(0.02866, abs=1e-4)
    assert two_proportion_p_value(VariantResult("A", 0, 0), VariantResult("B", 10, 5)) == 1.0
    assert two_proportion_p_value(VariantResult("A", 10, 0), VariantResult("B", 10, 0)) == 1.0


def decide(results, *, significance=True):
    return ab_decide(results=results, metric="opens", require_significance=significance, now=NOW)


def test_a_significant_lead_wins():
    decision = decide([VariantResult("A", 1000, 90), VariantResult("B", 1000, 120), VariantResult("C", 1000, 80)])

    assert (decision.winner, decision.rule) == ("B", "significant")
    assert decision.p_value == pytest.approx(0.02866, abs=1e-4)  # against the runner-up, A
    assert "B won" in decision.reason
    assert [variant["label"] for variant in decision.variants] == ["A", "B", "C"]


def test_a_lead_that_may_be_chance_sends_variant_a():
    decision = decide([VariantResult("A", 100, 10), VariantResult("B", 100, 14)])

    assert (decision.winner, decision.rule) == ("A", "not_significant")
    assert decision.p_value > 0.05
    assert "variant A is sent" in decision.reason


def test_without_significance_the_best_rate_wins_ties_to_the_first_label():
    assert decide([VariantResult("A", 100, 10), VariantResult("B", 100, 14)], significance=False).winner == "B"
    tie = decide([VariantResult("A", 100, 10), VariantResult("B", 100, 10)], significance=False)
    assert (tie.winner, tie.rule) == ("A", "best_rate")


def waiting_campaign(*, metric: str = "opens", significance: bool = True, due: bool = True) -> Campaign:
    campaign = CampaignFactory(
        status=CampaignStatus.WAITING_FOR_WINNER,
        audience_frozen_at=NOW,
        ab_winner_metric=metric,
        ab_require_significance=significance,
        ab_decide_at=NOW - timedelta(minutes=1) if due else NOW + timedelta(hours=1),
    )
    for label in "AB":
        CampaignVariant.objects.create(campaign=campaign, label=label, subject=f"Subject {label}")
    return campaign


def rows(campaign: Campaign, label: str, *, delivered: int, opened: int = 0, clicked: int = 0) -> None:
    for index in range(delivered):
        CampaignRecipientFactory(
            campaign=campaign,
            variant=label,
            status=RecipientStatus.SENT,
            delivered_at=NOW,
            # Machine opens never count; a click is a human open too.
            first_machine_opened_at=NOW,
            first_opened_at=NOW if index < max(opened, clicked) else None,
            first_clicked_at=NOW if index < clicked else None,
        )
    CampaignRecipientFactory(campaign=campaign, status=RecipientStatus.HELD, ab_remainder=True)


@pytest.mark.django_db
def test_the_decision_on_opens_is_stored_once():
    campaign = waiting_campaign()
    rows(campaign, "A", delivered=40, opened=4)
    rows(campaign, "B", delivered=40, opened=16)

    assert campaign_decide_winner(campaign_id=campaign.pk)
    assert not campaign_decide_winner(campaign_id=campaign.pk)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING
    assert campaign.ab_winner == "B"
    decision = campaign.ab_decision
    assert (decision["rule"], decision["metric"], decision["decided_by"]) == ("significant", "opens", "automatic")
    assert decision["variants"] == [
        {"label": "A", "delivered": 40, "converted": 4, "rate": 0.1},
        {"label": "B", "delivered": 40, "converted": 16, "rate": 0.4},
    ]
    assert decision["p_value"] < 0.05


@pytest.mark.django_db
def test_the_decision_on_clicks_ignores_opens():
    campaign = waiting_campaign(metric="clicks", significance=False)
    rows(campaign, "A", delivered=20, opened=15, clicked=2)
    rows(campaign, "B", delivered=20, clicked=5)

    campaign_decide_winner(campaign_id=campaign.pk)

    campaign.refresh_from_db()
    assert campaign.ab_winner == "B"
    assert campaign.ab_decision["rule"] == "best_rate"


@pytest.mark.django_db
def test_nothing_is_decided_before_it_is_due():
    campaign = waiting_campaign(due=False)

    assert not campaign_decide_winner(campaign_id=campaign.pk)
    assert Campaign.objects.get(pk=campaign.pk).ab_winner == ""


# --- Staff's pick ---------------------------------------------------------------------------


def pick(client: APIClient, campaign: Campaign, variant: str):
    return client.post(f"/api/campaigns/{campaign.pk}/pick-winner/", {"variant": variant}, format="json")


@pytest.mark.django_db
def test_staff_pick_the_winner_while_it_waits(admin_client_api: APIClient, admin_user):
    campaign = waiting_campaign(due=False)
    rows(campaign, "A", delivered=10, opened=5)
    rows(campaign, "B", delivered=10, opened=1)

    response = pick(admin_client_api, campaign, "B")

    assert response.status_code == 200, response.json()
    data = response.json()
    assert (data["status"], data["ab_winner"]) == ("SENDING", "B")
    assert data["ab_decision"]["rule"] == "picked"
    assert data["ab_decision"]["decided_by"] == admin_user.email
    assert admin_user.email in data["ab_decision"]["reason"]
    assert pick(admin_client_api, campaign, "A").status_code == 409


@pytest.mark.django_db
def test_pick_refuses_unknown_variants_and_other_statuses(admin_client_api: APIClient):
    campaign = waiting_campaign()

    unknown = pick(admin_client_api, campaign, "D")
    assert unknown.status_code == 400
    assert "variant" in error_fields(unknown)
    assert pick(admin_client_api, campaign, "").status_code == 400

    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    conflict = pick(admin_client_api, campaign, "A")
    assert conflict.status_code == 409
    assert conflict.json()["status"] == "SENDING"


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_staff_pick_racing_the_automatic_decision_one_wins(admin_user):
    campaign = waiting_campaign()
    rows(campaign, "A", delivered=30, opened=3)
    rows(campaign, "B", delivered=30, opened=20)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def automatic() -> None:
        barrier.wait()
        outcomes.append("auto" if campaign_decide_winner(campaign_id=campaign.pk) else "lost")
        connections.close_all()

    def staff() -> None:
        barrier.wait()
        try:
            campaign_pick_winner(campaign=Campaign.objects.get(pk=campaign.pk), variant="A", by=admin_user)
            outcomes.append("picked")
        except StateConflictError:
            outcomes.append("lost")
        connections.close_all()

    threads = [threading.Thread(target=target) for target in (automatic, staff) * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes).count("lost") == 5
    campaign.refresh_from_db()
    winner = next(outcome for outcome in outcomes if outcome != "lost")
    assert (campaign.ab_winner, campaign.ab_decision["rule"]) == (
        ("B", "significant") if winner == "auto" else ("A", "picked")
    )
