from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Gender, PartnershipStatus, Role
from accounts.tests.factories import EnrollmentFactory, LeadFactory, PropertyFactory, UserFactory
from campaigns.models import CampaignStatus
from campaigns.tests.factories import CampaignFactory
from core.testing import error_code, error_detail, error_fields
from segments.models import ExportStatus, Membership, Segment
from segments.tests.factories import SegmentExportFactory, SegmentFactory

pytestmark = pytest.mark.django_db

LIST = "/api/segments/"


def detail(segment: Segment, suffix: str = "") -> str:
    return f"/api/segments/{segment.pk}/{suffix}"


def payload(**overrides: Any) -> dict[str, Any]:
    return {"name": "Londoners", "description": "People in London", "states": ["London"], **overrides}


# --- Authentication and permissions ---------------------------------------------------------


def test_token_obtain_and_refresh(api_client: APIClient, make_user) -> None:
    make_user(Role.MANAGER, email="boss@example.com", password="S3cret-pass-1")
    answer = api_client.post("/api/auth/token/", {"email": "boss@example.com", "password": "S3cret-pass-1"})
    assert answer.status_code == 200
    tokens = answer.json()
    assert set(tokens) == {"access", "refresh"}

    refreshed = api_client.post("/api/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert refreshed.status_code == 200
    assert "access" in refreshed.json()

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
    assert api_client.get(LIST).status_code == 200


def test_token_refuses_wrong_password_and_bad_refresh(api_client: APIClient, make_user) -> None:
    make_user(Role.MANAGER, email="boss@example.com", password="S3cret-pass-1")
    assert api_client.post("/api/auth/token/", {"email": "boss@example.com", "password": "nope"}).status_code == 401
    assert api_client.post("/api/auth/token/refresh/", {"refresh": "garbage"}).status_code == 401


def test_session_auth_works(client, manager_user) -> None:
    client.force_login(manager_user)
    assert client.get(LIST).status_code == 200


def _all_endpoints(segment: Segment) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("get", LIST, None),
        ("post", LIST, payload(name="New one")),
        ("get", detail(segment), None),
        ("put", detail(segment), payload(name="Renamed")),
        ("patch", detail(segment), {"description": "x"}),
        ("get", detail(segment, "preview/"), None),
        ("post", "/api/segments/preview/", {"states": ["London"]}),
        ("get", "/api/segments/stats/", None),
        ("get", detail(segment, "exports/"), None),
        ("delete", detail(segment), None),
    ]


@pytest.mark.parametrize("role", [Role.STAFF, Role.AGENT, Role.PARTNER, Role.CLIENT])
def test_other_roles_are_forbidden_everywhere(api_client: APIClient, make_user, role: str) -> None:
    segment = SegmentFactory()
    api_client.force_authenticate(make_user(role))
    for method, url, body in _all_endpoints(segment):
        answer = getattr(api_client, method)(url, body)
        assert answer.status_code == 403, (method, url)
    assert Segment.objects.count() == 1


def test_anonymous_gets_401_everywhere(api_client: APIClient) -> None:
    segment = SegmentFactory()
    for method, url, body in _all_endpoints(segment):
        answer = getattr(api_client, method)(url, body)
        assert answer.status_code == 401, (method, url)
        assert answer["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER])
def test_admins_and_managers_may_use_every_endpoint(api_client: APIClient, make_user, role: str) -> None:
    segment = SegmentFactory()
    api_client.force_authenticate(make_user(role))
    expected = {"post": 201, "delete": 204}
    for method, url, body in _all_endpoints(segment):
        answer = getattr(api_client, method)(url, body)
        wanted = 200 if url == "/api/segments/preview/" else expected.get(method, 200)
        assert answer.status_code == wanted, (method, url, answer.content)


def test_inactive_user_with_valid_token_is_refused(api_client: APIClient, make_user) -> None:
    manager = make_user(Role.MANAGER, is_active=False)
    api_client.force_authenticate(manager)
    assert api_client.get(LIST).status_code == 403


# --- Create, read, update, delete -----------------------------------------------------------


def test_create_returns_the_segment_with_counts(admin_client_api: APIClient, admin_user) -> None:
    prop = PropertyFactory()
    agent = UserFactory(role=Role.AGENT)
    partner = UserFactory(role=Role.PARTNER, partnership_status=PartnershipStatus.ACTIVE)
    member = UserFactory(state="London", gender=Gender.MALE, referred_by_partner=partner)
    EnrollmentFactory(user=member, property=prop, agent=agent)
    EnrollmentFactory(user=member, agent=agent)
    answer = admin_client_api.post(
        LIST,
        payload(
            gender="MALE",
            properties=[prop.pk],
            countries=["gb"],
            agents=[agent.pk],
            partners=[partner.pk],
            traffic_sources=["google"],
            membership="ACTIVE",
        ),
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["name"] == "Londoners"
    assert body["countries"] == ["GB"]
    assert (body["properties"], body["agents"], body["partners"]) == ([prop.pk], [agent.pk], [partner.pk])
    assert (body["matching_count"], body["reachable_count"]) == (1, 1)
    assert body["created_by"] == {"id": admin_user.pk, "email": admin_user.email, "name": admin_user.full_name}
    assert body["last_export"] is None
    assert body["brevo_list_id"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Empty"}, "criteria"),
        ({"name": "All", "membership": "ALL"}, "criteria"),
        (payload(name=""), "name"),
        (payload(gender="ROBOT"), "gender"),
        (payload(membership="VIP"), "membership"),
        (payload(countries=["XX"]), "countries"),
        (payload(countries=["GBR"]), "countries.0"),
        (payload(properties=[999_999]), "properties"),
        (payload(properties=["abc"]), "properties.0"),
        (payload(agents=[999_999]), "agents"),
        (payload(partners=[999_999]), "partners"),
        (payload(states="London"), "states"),
    ],
)
def test_create_rejects_bad_input_naming_the_field(admin_client_api: APIClient, body: dict, field: str) -> None:
    answer = admin_client_api.post(LIST, body)
    assert answer.status_code == 400
    assert field in error_fields(answer)
    assert not Segment.objects.exists()


def test_create_rejects_non_agent_and_inactive_partner(admin_client_api: APIClient) -> None:
    client = UserFactory(role=Role.CLIENT)
    pending = UserFactory(role=Role.PARTNER, partnership_status=PartnershipStatus.PENDING)
    answer = admin_client_api.post(LIST, payload(agents=[client.pk], partners=[pending.pk]))
    assert answer.status_code == 400
    assert set(error_fields(answer)) == {"agents", "partners"}


def test_create_rejects_duplicate_name_ignoring_case(admin_client_api: APIClient) -> None:
    SegmentFactory(name="londoners")
    answer = admin_client_api.post(LIST, payload(name="LONDONERS"))
    assert answer.status_code == 400
    assert "name" in error_fields(answer)


def test_retrieve_shows_creator_and_last_export(admin_client_api: APIClient) -> None:
    segment = SegmentFactory()
    SegmentExportFactory(segment=segment, status=ExportStatus.FAILED, error_message="old")
    latest = SegmentExportFactory(segment=segment, status=ExportStatus.SUCCESS, users_count=42)
    body = admin_client_api.get(detail(segment)).json()
    assert body["created_by"]["email"] == segment.created_by.email
    assert body["last_export"]["id"] == latest.pk
    assert body["last_export"]["users_count"] == 42


def test_unknown_segment_is_404(admin_client_api: APIClient) -> None:
    assert admin_client_api.get("/api/segments/999999/").status_code == 404
    assert admin_client_api.get("/api/segments/999999/preview/").status_code == 404
    assert admin_client_api.delete("/api/segments/999999/").status_code == 404


def test_put_replaces_criteria(admin_client_api: APIClient) -> None:
    prop = PropertyFactory()
    segment_id = admin_client_api.post(LIST, payload(properties=[prop.pk])).json()["id"]
    answer = admin_client_api.put(f"/api/segments/{segment_id}/", {"name": "Renamed", "countries": ["FR"]})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["name"], body["description"], body["countries"], body["states"], body["properties"]) == (
        "Renamed",
        "",
        ["FR"],
        [],
        [],
    )


def test_patch_keeps_what_is_not_sent(admin_client_api: APIClient) -> None:
    prop = PropertyFactory()
    segment_id = admin_client_api.post(LIST, payload(properties=[prop.pk])).json()["id"]
    answer = admin_client_api.patch(f"/api/segments/{segment_id}/", {"countries": ["FR"]})
    assert answer.status_code == 200
    body = answer.json()
    assert (body["name"], body["states"], body["properties"], body["countries"]) == (
        "Londoners",
        ["London"],
        [prop.pk],
        ["FR"],
    )
    assert admin_client_api.patch(f"/api/segments/{segment_id}/", {"description": "new"}).json()["states"] == ["London"]


def test_patch_that_empties_the_criteria_is_refused(admin_client_api: APIClient) -> None:
    segment_id = admin_client_api.post(LIST, payload()).json()["id"]
    answer = admin_client_api.patch(f"/api/segments/{segment_id}/", {"states": []})
    assert answer.status_code == 400
    assert "criteria" in error_fields(answer)
    assert Segment.objects.get(pk=segment_id).states == ["London"]


def test_delete(admin_client_api: APIClient) -> None:
    segment = SegmentFactory()
    assert admin_client_api.delete(detail(segment)).status_code == 204
    assert not Segment.objects.exists()


@pytest.mark.parametrize("status", [CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED])
def test_delete_conflicts_while_a_campaign_uses_it(admin_client_api: APIClient, status: str) -> None:
    segment = SegmentFactory()
    campaign = CampaignFactory(subject="Hi", body_html="<p>Hi</p>", segment=segment, status=status)
    answer = admin_client_api.delete(detail(segment))
    assert answer.status_code == 409
    body = answer.json()
    assert error_code(answer) == "state_conflict"
    assert body["campaigns"] == [campaign.pk]
    assert segment.name in error_detail(answer)
    assert Segment.objects.filter(pk=segment.pk).exists()


# --- List, filters, query counts ------------------------------------------------------------


def test_list_is_paginated_searchable_filterable_and_ordered(admin_client_api: APIClient, admin_user) -> None:
    other = UserFactory(role=Role.MANAGER)
    SegmentFactory(name="Alpha London", created_by=admin_user, brevo_list_id=11)
    SegmentFactory(name="Beta", description="people in london", created_by=other)
    SegmentFactory(name="Gamma", created_by=other)

    body = admin_client_api.get(LIST).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3

    def names(query: str) -> list[str]:
        return [row["name"] for row in admin_client_api.get(f"{LIST}?{query}").json()["results"]]

    assert names("search=london&ordering=name") == ["Alpha London", "Beta"]
    assert names(f"created_by={other.pk}&ordering=-name") == ["Gamma", "Beta"]
    assert names("has_brevo_list=true") == ["Alpha London"]
    assert names("has_brevo_list=false&ordering=name") == ["Beta", "Gamma"]
    page = admin_client_api.get(f"{LIST}?page_size=2&ordering=name").json()
    assert (len(page["results"]), page["next"] is not None) == (2, True)


def test_list_query_count_does_not_grow_with_rows(admin_client_api: APIClient, django_assert_max_num_queries) -> None:
    agents = [UserFactory(role=Role.AGENT) for _ in range(2)]
    props = [PropertyFactory() for _ in range(2)]
    for index in range(30):
        segment = SegmentFactory(properties=props, agents=agents)
        if index % 2:
            SegmentExportFactory(segment=segment)
            SegmentExportFactory(segment=segment)
    # 2 permission lookups + count + page (creators joined) + 3 criteria prefetches + latest exports
    with django_assert_max_num_queries(8):
        body = admin_client_api.get(f"{LIST}?page_size=30").json()
    assert len(body["results"]) == 30
    assert all(row["properties"] == sorted(p.pk for p in props) for row in body["results"])
    assert sum(row["last_export"] is not None for row in body["results"]) == 15


def test_exports_history_is_paginated_newest_first(admin_client_api: APIClient, django_assert_max_num_queries) -> None:
    segment = SegmentFactory()
    exports = [SegmentExportFactory(segment=segment, exported_by=UserFactory()) for _ in range(5)]
    SegmentExportFactory()  # another segment's
    # 2 permission lookups + segment + count + page (exporters joined)
    with django_assert_max_num_queries(5):
        body = admin_client_api.get(detail(segment, "exports/?page_size=3")).json()
    assert body["count"] == 5
    assert [row["id"] for row in body["results"]] == [export.pk for export in exports[::-1][:3]]
    assert body["results"][0]["exported_by"]["email"] == exports[-1].exported_by.email
    assert body["next"] is not None


# --- Preview --------------------------------------------------------------------------------


def test_preview_of_a_saved_segment_pages_through_every_match(
    admin_client_api: APIClient, django_assert_max_num_queries
) -> None:
    prop = PropertyFactory()
    members = []
    for index in range(120):
        user = UserFactory(is_verified=index % 3 != 0)
        EnrollmentFactory(user=user, property=prop)
        members.append(user)
    EnrollmentFactory(user=members[0])  # a second enrollment must not duplicate the row
    UserFactory()
    segment = SegmentFactory(properties=[prop], membership=Membership.ALL)

    first = admin_client_api.get(detail(segment, "preview/")).json()
    assert (first["matching_count"], first["reachable_count"], first["count"]) == (120, 80, 120)
    assert first["counts_refreshed_at"] is not None
    assert first["previous"] is None
    assert set(first["results"][0]) >= {"id", "email", "first_name", "last_name", "country", "state", "reachable"}
    assert first["results"][0]["reachable"] is False
    assert first["results"][1]["reachable"] is True

    seen = [row["id"] for row in first["results"]]
    url = first["next"]
    while url:
        # 2 permission lookups + segment + its 3 criteria relations + page + reachable flags;
        # the counts taken on the first page are reused
        with django_assert_max_num_queries(8):
            page = admin_client_api.get(url).json()
        assert page["matching_count"] == 120
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert seen == sorted(user.pk for user in members)

    last = admin_client_api.get(detail(segment, "preview/?page=last")).json()
    assert [row["id"] for row in last["results"]] == seen[-50:]
    assert last["next"] is None
    assert "page=before" in last["previous"]


def test_preview_rejects_a_bad_page(admin_client_api: APIClient) -> None:
    segment = SegmentFactory()
    answer = admin_client_api.get(detail(segment, "preview/?page=7"))
    assert answer.status_code == 400
    assert "page" in error_fields(answer)


def test_preview_of_unsaved_criteria(admin_client_api: APIClient) -> None:
    agent = UserFactory(role=Role.AGENT)
    by_lead = LeadFactory(agent=agent).user
    by_enrollment = EnrollmentFactory(agent=agent).user
    EnrollmentFactory(user=by_lead, agent=agent)
    answer = admin_client_api.post("/api/segments/preview/", {"agents": [agent.pk]})
    assert answer.status_code == 200
    body = answer.json()
    assert (body["matching_count"], body["count"]) == (2, 2)
    assert [row["id"] for row in body["results"]] == sorted([by_lead.pk, by_enrollment.pk])
    assert body["counts_refreshed_at"] is None
    assert not Segment.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "criteria"), ({"agents": [999_999]}, "agents"), ({"countries": ["QQ"]}, "countries")],
)
def test_preview_of_unsaved_criteria_validates(admin_client_api: APIClient, body: dict, field: str) -> None:
    answer = admin_client_api.post("/api/segments/preview/", body)
    assert answer.status_code == 400
    assert field in error_fields(answer)


# --- Stats ----------------------------------------------------------------------------------


def test_stats(admin_client_api: APIClient, django_assert_max_num_queries) -> None:
    segment = SegmentFactory()
    SegmentFactory()
    SegmentExportFactory(segment=segment, status=ExportStatus.SUCCESS)
    SegmentExportFactory(segment=segment, status=ExportStatus.FAILED)
    # 2 permission lookups + two totals + two month groupings
    with django_assert_max_num_queries(6):
        answer = admin_client_api.get("/api/segments/stats/")
    body = answer.json()
    assert {key: value for key, value in body.items() if key != "monthly"} == {
        "total_segments": 2,
        "segments_this_month": 2,
        "total_exports": 2,
        "successful_exports": 1,
        "failed_exports": 1,
        "exports_this_month": 2,
    }
    assert len(body["monthly"]) == 12
    assert body["monthly"][-1]["segments_created"] == 2
    assert body["monthly"][-1]["exports"] == 2
    assert all(row["segments_created"] == 0 for row in body["monthly"][:-1])


# --- Schema ---------------------------------------------------------------------------------


def test_schema_generates_and_validates_without_warnings(tmp_path) -> None:
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    schema = (tmp_path / "schema.yaml").read_text()
    for path in (
        "/api/segments/:",
        "/api/segments/{id}/:",
        "/api/segments/{id}/preview/:",
        "/api/segments/preview/:",
        "/api/segments/stats/:",
        "/api/segments/{id}/exports/:",
    ):
        assert path in schema


def test_schema_documents_segment_errors(admin_client_api: APIClient) -> None:
    schema = admin_client_api.get(reverse("schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    delete = schema["paths"]["/api/segments/{id}/"]["delete"]["responses"]
    assert {"204", "401", "403", "404", "409"} <= set(delete)
    create = schema["paths"]["/api/segments/"]["post"]["responses"]
    assert {"201", "400", "401", "403"} <= set(create)
    preview = schema["paths"]["/api/segments/{id}/preview/"]["get"]
    assert any(parameter["name"] == "page" for parameter in preview["parameters"])
    assert admin_client_api.get("/api/docs/").status_code == 200
