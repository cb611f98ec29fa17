from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import PartnershipStatus, Role, User
from accounts.tests.factories import EnrollmentFactory, PropertyFactory, UserFactory
from campaigns.models import CampaignStatus
from campaigns.tests.factories import CampaignFactory
from segments.models import ExportStatus, Membership, Segment, SegmentExport
from segments.tests.factories import SegmentExportFactory, SegmentFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/segments/segment/"
ADD = "/admin/segments/segment/add/"


def form_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Londoners",
        "description": "",
        "membership": Membership.ALL,
        "gender": "",
        "states": "London",
        "traffic_sources": "",
    }
    data.update(overrides)
    return data


def inline_management(segment: Segment) -> dict[str, Any]:
    count = segment.exports.count()
    return {
        "exports-TOTAL_FORMS": count,
        "exports-INITIAL_FORMS": count,
        "exports-MIN_NUM_FORMS": 0,
        "exports-MAX_NUM_FORMS": 1000,
    }


def test_changelist_shows_cached_counts_in_bounded_queries(staff_client: Client, django_assert_max_num_queries) -> None:
    for index in range(40):
        SegmentFactory(name=f"Segment {index}", matching_count=index, reachable_count=index // 2)
    with django_assert_max_num_queries(12):
        answer = staff_client.get(CHANGELIST)
    assert answer.status_code == 200
    assert b"Segment 39" in answer.content
    assert "Reachable count" in answer.content.decode()


def test_changelist_search_and_filters(staff_client: Client) -> None:
    SegmentFactory(name="Londoners", brevo_list_id=5)
    SegmentFactory(name="Parisians", membership=Membership.INACTIVE)
    assert b"Parisians" not in staff_client.get(f"{CHANGELIST}?q=london").content
    assert b"Londoners" not in staff_client.get(f"{CHANGELIST}?membership__exact=INACTIVE").content
    assert b"Parisians" not in staff_client.get(f"{CHANGELIST}?has_brevo_list=yes").content


def test_add_goes_through_the_service(staff_client: Client) -> None:
    prop = PropertyFactory()
    agent = UserFactory(role=Role.AGENT)
    member = UserFactory(state="Bath", country="GB")
    EnrollmentFactory(user=member, property=prop, agent=agent)
    EnrollmentFactory(user=member, agent=agent)
    answer = staff_client.post(
        ADD,
        form_data(
            states="Bath", countries=["GB", "FR"], properties=[prop.pk], agents=[agent.pk], traffic_sources="google\n\n"
        ),
    )
    assert answer.status_code == 302, answer.context["adminform"].form.errors if answer.context else answer
    segment = Segment.objects.get()
    assert (segment.countries, segment.states, segment.traffic_sources) == (["FR", "GB"], ["Bath"], ["google"])
    assert list(segment.properties.all()) == [prop]
    assert list(segment.agents.all()) == [agent]
    assert segment.created_by is not None
    assert (segment.matching_count, segment.reachable_count) == (1, 1)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"states": ""}, None),
        ({"name": "LONDON PEOPLE"}, "name"),
    ],
)
def test_add_shows_service_errors_on_the_form(
    staff_client: Client, overrides: dict[str, Any], field: str | None
) -> None:
    SegmentFactory(name="London people")
    answer = staff_client.post(ADD, form_data(**overrides))
    assert answer.status_code == 200
    form = answer.context["adminform"].form
    errors = form.non_field_errors() if field is None else form.errors[field]
    assert errors
    assert Segment.objects.count() == 1


def test_add_refuses_inactive_partner(staff_client: Client) -> None:
    pending = UserFactory(role=Role.PARTNER, partnership_status=PartnershipStatus.PENDING)
    answer = staff_client.post(ADD, form_data(partners=[pending.pk]))
    assert answer.status_code == 200
    assert "partners" in answer.context["adminform"].form.errors
    assert not Segment.objects.exists()


def test_change_form_shows_live_counts_preview_and_exports(staff_client: Client) -> None:
    segment = SegmentFactory(states=["Bath"], membership=Membership.ALL)
    shown = UserFactory(state="Bath", email="shown@example.com")
    UserFactory(state="Bath", is_verified=False)
    UserFactory(state="Leeds", email="hidden@example.com")
    SegmentExportFactory(segment=segment, error_message="Brevo said no")
    answer = staff_client.get(f"/admin/segments/segment/{segment.pk}/change/")
    assert answer.status_code == 200
    audience = answer.context["audience"]
    assert (audience["counts"].matching, audience["counts"].reachable) == (2, 1)
    content = answer.content.decode()
    assert "shown@example.com" in content
    assert "hidden@example.com" not in content
    assert "Brevo said no" in content
    assert f"/admin/accounts/user/{shown.pk}/change/" in content


def test_change_updates_through_the_service(staff_client: Client) -> None:
    segment = SegmentFactory(states=["London"])
    answer = staff_client.post(
        f"/admin/segments/segment/{segment.pk}/change/",
        {**form_data(name="Renamed", states="", countries=["FR"]), **inline_management(segment)},
    )
    assert answer.status_code == 302
    segment.refresh_from_db()
    assert (segment.name, segment.states, segment.countries) == ("Renamed", [], ["FR"])
    assert segment.counts_refreshed_at is not None


def test_delete_is_refused_while_a_campaign_depends_on_it(staff_client: Client) -> None:
    segment = SegmentFactory()
    CampaignFactory(subject="Spring", body_html="x", segment=segment, status=CampaignStatus.SCHEDULED)
    url = f"/admin/segments/segment/{segment.pk}/delete/"
    page = staff_client.get(url)
    assert "Spring" in page.content.decode()
    assert page.context["protected"]
    staff_client.post(url, {"post": "yes"})
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_delete_detaches_sent_campaigns(staff_client: Client) -> None:
    segment = SegmentFactory()
    campaign = CampaignFactory(subject="Old", body_html="x", segment=segment, status=CampaignStatus.SENT)
    answer = staff_client.post(f"/admin/segments/segment/{segment.pk}/delete/", {"post": "yes"})
    assert answer.status_code == 302
    assert not Segment.objects.exists()
    campaign.refresh_from_db()
    assert campaign.segment is None


def test_refresh_counts_action(staff_client: Client) -> None:
    segment = SegmentFactory(states=["Bath"], membership=Membership.ALL)
    UserFactory(state="Bath")
    staff_client.post(CHANGELIST, {"action": "refresh_counts", "_selected_action": [segment.pk]})
    segment.refresh_from_db()
    assert (segment.matching_count, segment.reachable_count) == (1, 1)


def test_agent_autocomplete_offers_only_agents(staff_client: Client) -> None:
    agent = UserFactory(role=Role.AGENT, email="anna.agent@example.com")
    UserFactory(role=Role.CLIENT, email="anna.client@example.com")
    answer = staff_client.get(
        "/admin/autocomplete/",
        {"app_label": "segments", "model_name": "segment", "field_name": "agents", "term": "anna"},
    )
    assert answer.status_code == 200
    assert [row["id"] for row in answer.json()["results"]] == [str(agent.pk)]


# -- syncing to Brevo -----------------------------------------------------------------------------


def test_admin_action_queues_a_sync_per_selected_segment(
    fast_brevo: Any, staff_client: Client, spain: Segment, france: Segment
) -> None:
    SegmentExportFactory(segment=france, status=ExportStatus.RUNNING, heartbeat_at=timezone.now())

    answer = staff_client.post(
        "/admin/segments/segment/",
        {"action": "sync_to_brevo", "_selected_action": [spain.pk, france.pk]},
        follow=True,
    )

    assert answer.status_code == 200
    content = answer.content.decode()
    assert "Spain: Brevo sync queued" in content
    assert "France: A Brevo sync of this segment is already running" in content
    assert SegmentExport.objects.get(segment=spain).status == ExportStatus.PENDING


def test_change_form_has_a_sync_button_and_the_export_history(
    fast_brevo: Any, staff_client: Client, segment: Segment
) -> None:
    SegmentExportFactory(
        segment=segment, status=ExportStatus.FAILED, error_message="Brevo refused the API key (Key not found)."
    )

    page = staff_client.get(f"/admin/segments/segment/{segment.pk}/change/").content.decode()

    assert f'action="/admin/segments/segment/{segment.pk}/sync/"' in page
    assert "Sync to Brevo" in page
    assert "Brevo refused the API key (Key not found)." in page
    assert "Failed" in page


def test_sync_button_queues_a_sync(fast_brevo: Any, staff_client: Client, segment: Segment) -> None:
    url = f"/admin/segments/segment/{segment.pk}/sync/"

    assert staff_client.get(url).status_code == 405
    answer = staff_client.post(url)

    assert answer.status_code == 302
    assert answer["Location"] == f"/admin/segments/segment/{segment.pk}/change/"
    assert SegmentExport.objects.get(segment=segment).status == ExportStatus.PENDING


def test_sync_button_is_refused_to_other_roles(
    fast_brevo: Any, client: Client, make_user: Callable[..., User], segment: Segment
) -> None:
    client.force_login(make_user(Role.STAFF))
    answer = client.post(f"/admin/segments/segment/{segment.pk}/sync/")
    assert answer.status_code in (302, 403)
    assert not SegmentExport.objects.exists()


def test_admin_create_with_brevo_down_saves_nothing_and_says_why(
    fast_brevo: Any, staff_client: Client, settings: Any
) -> None:
    settings.BREVO_RETRY_ATTEMPTS = 1
    fast_brevo.fail_next(5, 503, path_prefix="contacts")

    answer = staff_client.post(
        "/admin/segments/segment/add/",
        {"name": "Spain", "description": "", "membership": "ALL", "gender": "", "countries": ["ES"]},
        follow=True,
    )

    assert answer.status_code == 200
    assert "Could not create the segment&#x27;s Brevo list" in answer.content.decode()
    assert not Segment.objects.exists()
