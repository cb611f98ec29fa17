"""The segment builder as staff use it: live counts while editing, values to pick from, values
that match nobody flagged, a reason beside each member who cannot be emailed."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import SuppressionReason
from accounts.tests.factories import SuppressionFactory, UserFactory
from segments.forms import COUNTRY_CHOICES
from segments.models import Membership, Segment
from segments.selectors import known_values, unreachable_reasons, values_matching_nobody
from segments.tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db


def test_countries_are_listed_by_name_with_the_name_first():
    labels = [label for _, label in COUNTRY_CHOICES]

    assert labels[:4] == ["Afghanistan (AF)", "Åland Islands (AX)", "Albania (AL)", "Algeria (DZ)"]
    assert labels.index("Andorra (AD)") < labels.index("United Arab Emirates (AE)")


def test_known_values_are_the_users_own_most_common_first():
    UserFactory.create_batch(2, state="Northshire")
    UserFactory(state="Southmere")
    UserFactory(state="")

    assert known_values("states")[:2] == [("Northshire", 2), ("Southmere", 1)]


def test_a_value_nobody_has_is_flagged():
    UserFactory(state="Northshire", referral_source="newsletter")

    assert values_matching_nobody("states", ["Northshire", "Nortshire"]) == ["Nortshire"]
    assert values_matching_nobody("traffic_sources", ["newsletter"]) == []


def test_each_unreachable_member_gets_a_reason():
    fine = UserFactory()
    unverified = UserFactory(is_verified=False)
    opted_out = UserFactory(email_opted_out_at=timezone.now())
    bounced = UserFactory(email="Bounced@example.com")
    SuppressionFactory(email="bounced@example.com", reason=SuppressionReason.HARD_BOUNCE)

    reasons = unreachable_reasons([fine, unverified, opted_out, bounced])

    assert fine.pk not in reasons
    assert reasons[unverified.pk] == "address not verified"
    assert reasons[opted_out.pk].startswith("opted out on ")
    assert reasons[bounced.pk] == "suppressed: hard bounce"


def test_the_live_count_follows_unsaved_criteria_and_flags_typos(admin_client):
    UserFactory.create_batch(2, state="Northshire")
    UserFactory(state="Northshire", is_verified=False)

    answer = admin_client.post(
        reverse("admin:segments_segment_count"), {"membership": "ALL", "states": "Northshire\nNortshire"}
    ).json()

    assert (answer["matching"], answer["reachable"]) == (3, 2)
    assert answer["unmatched"] == {"states": ["Nortshire"]}
    assert not Segment.objects.exists()


def test_the_live_count_names_the_problem_without_internal_values(admin_client):
    answer = admin_client.post(reverse("admin:segments_segment_count"), {"membership": "ALL"}).json()

    assert answer["error"] == "Choose at least one criterion; a membership other than “All members” counts as one."
    assert "ALL" not in answer["error"]


def test_saving_a_value_nobody_has_keeps_it_and_says_so(admin_client):
    UserFactory(state="Northshire")

    response = admin_client.post(
        reverse("admin:segments_segment_add"), {"name": "Typo", "membership": "ALL", "states": "Nortshire"}, follow=True
    )

    assert Segment.objects.get(name="Typo").states == ["Nortshire"]
    assert "States: “Nortshire” matches no user yet; saved as typed." in response.content.decode()


def test_the_form_offers_the_values_users_have(admin_client):
    UserFactory(state="Northshire", referral_source="newsletter")

    html = admin_client.get(reverse("admin:segments_segment_add")).content.decode()

    assert '<option value="Northshire">1 users</option>' in html
    assert '<option value="newsletter">1 users</option>' in html


def test_the_preview_gives_a_reason_beside_each_unreachable_member(admin_client):
    UserFactory(state="Northshire", email="reader@example.com")
    UserFactory(state="Northshire", email="quiet@example.com", email_opted_out_at=timezone.now())
    segment = SegmentFactory(name="Northshireers", states=["Northshire"], membership=Membership.ALL, created_by=None)

    html = admin_client.get(reverse("admin:segments_segment_change", args=[segment.pk])).content.decode()

    assert 'no <span class="segment-why">— opted out on ' in html
