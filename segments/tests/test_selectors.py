from __future__ import annotations

from datetime import datetime

import pytest
from django.utils import timezone

from accounts.models import Gender, LeadStatus, MembershipStatus, Role
from accounts.tests.factories import EnrollmentFactory, LeadFactory, PropertyFactory, UserFactory
from segments.models import ExportStatus, Membership
from segments.selectors import (
    Criteria,
    PreviewCursor,
    criteria_counts,
    matching_users,
    preview_page,
    reachable_users,
    segment_stats,
)
from segments.tests.factories import SegmentExportFactory, SegmentFactory

pytestmark = pytest.mark.django_db


def ids(criteria: Criteria) -> set[int]:
    found = list(matching_users(criteria).values_list("pk", flat=True))
    assert len(found) == len(set(found)), "a user appeared twice"
    return set(found)


def test_gender() -> None:
    woman = UserFactory(gender=Gender.FEMALE)
    UserFactory(gender=Gender.MALE)
    UserFactory(gender="")
    assert ids(Criteria(gender=Gender.FEMALE)) == {woman.pk}


def test_properties_any_of_and_each_user_once() -> None:
    first, second, other = PropertyFactory(), PropertyFactory(), PropertyFactory()
    both = UserFactory()
    EnrollmentFactory(user=both, property=first)
    EnrollmentFactory(user=both, property=second)
    only_second = EnrollmentFactory(property=second).user
    EnrollmentFactory(property=other)
    UserFactory()
    assert ids(Criteria(properties=(first.pk, second.pk))) == {both.pk, only_second.pk}
    assert criteria_counts(Criteria(properties=(first.pk, second.pk))).matching == 2


def test_countries_and_states() -> None:
    london = UserFactory(country="GB", state="London")
    paris = UserFactory(country="FR", state="Île-de-France")
    UserFactory(country="DE", state="Berlin")
    assert ids(Criteria(countries=("GB", "FR"))) == {london.pk, paris.pk}
    assert ids(Criteria(states=("London",))) == {london.pk}


def test_traffic_sources() -> None:
    google = UserFactory(referral_source="google")
    UserFactory(referral_source="facebook")
    assert ids(Criteria(traffic_sources=("google", "newsletter"))) == {google.pk}


def test_agents_through_enrollments_or_closed_leads_once() -> None:
    agent, other_agent = UserFactory(role=Role.AGENT), UserFactory(role=Role.AGENT)
    enrolled_and_closed = UserFactory()
    EnrollmentFactory(user=enrolled_and_closed, agent=agent)
    EnrollmentFactory(user=enrolled_and_closed, agent=agent)
    LeadFactory(user=enrolled_and_closed, agent=agent, status=LeadStatus.CLOSED)
    closed_lead = LeadFactory(agent=agent, status=LeadStatus.CLOSED).user
    LeadFactory(agent=agent, status=LeadStatus.OPEN)
    LeadFactory(agent=other_agent, status=LeadStatus.CLOSED)
    assert ids(Criteria(agents=(agent.pk,))) == {enrolled_and_closed.pk, closed_lead.pk}


def test_partners() -> None:
    partner = UserFactory(role=Role.PARTNER)
    referred = UserFactory(referred_by_partner=partner)
    UserFactory(referred_by_partner=UserFactory(role=Role.PARTNER))
    assert ids(Criteria(partners=(partner.pk,))) == {referred.pk}


@pytest.mark.parametrize(
    ("membership", "expected"),
    [
        (Membership.ALL, {"active", "inactive", "staff", "admin", "manager"}),
        (Membership.ACTIVE, {"active", "staff", "admin", "manager"}),
        (Membership.INACTIVE, {"inactive"}),
        (Membership.STAFF, {"staff", "admin", "manager"}),
    ],
)
def test_membership_presets(membership: str, expected: set[str]) -> None:
    people = {
        "active": UserFactory(),
        "inactive": UserFactory(membership_status=MembershipStatus.INACTIVE),
        "staff": UserFactory(role=Role.STAFF),
        "admin": UserFactory(role=Role.ADMIN),
        "manager": UserFactory(role=Role.MANAGER),
    }
    assert ids(Criteria(membership=membership)) == {people[name].pk for name in expected}


def test_criteria_combine_with_and_each_user_once() -> None:
    prop, agent = PropertyFactory(), UserFactory(role=Role.AGENT)
    match = UserFactory(gender=Gender.MALE, country="GB", referral_source="google")
    EnrollmentFactory(user=match, property=prop, agent=agent)
    EnrollmentFactory(user=match, agent=agent)
    LeadFactory(user=match, agent=agent)
    wrong_gender = UserFactory(gender=Gender.FEMALE, country="GB", referral_source="google")
    EnrollmentFactory(user=wrong_gender, property=prop, agent=agent)
    wrong_country = UserFactory(gender=Gender.MALE, country="FR", referral_source="google")
    EnrollmentFactory(user=wrong_country, property=prop, agent=agent)
    no_agent = UserFactory(gender=Gender.MALE, country="GB", referral_source="google")
    EnrollmentFactory(user=no_agent, property=prop)
    criteria = Criteria(
        gender=Gender.MALE,
        properties=(prop.pk,),
        countries=("GB",),
        traffic_sources=("google",),
        agents=(agent.pk,),
        membership=Membership.ACTIVE,
    )
    assert ids(criteria) == {match.pk}
    assert criteria_counts(criteria).matching == 1


def test_counts_report_matching_and_reachable() -> None:
    prop = PropertyFactory()
    for verified in (True, True, False):
        user = UserFactory(is_verified=verified)
        EnrollmentFactory(user=user, property=prop)
        EnrollmentFactory(user=user)
    counts = criteria_counts(Criteria(properties=(prop.pk,)))
    assert (counts.matching, counts.reachable) == (3, 2)
    assert reachable_users(matching_users(Criteria(properties=(prop.pk,)))).count() == 2


def test_preview_pages_forward_and_backward_cover_every_user_once() -> None:
    users = [UserFactory(country="GB", is_verified=index % 2 == 0) for index in range(7)]
    UserFactory(country="FR")
    criteria = Criteria(countries=("GB",))
    seen: list[int] = []
    cursor = PreviewCursor()
    pages = 0
    while True:
        page = preview_page(criteria, cursor=cursor, size=3)
        pages += 1
        assert (page.previous_cursor is None) == (pages == 1)
        seen += [user.pk for user in page.users]
        if page.next_cursor is None:
            break
        cursor = PreviewCursor.parse(page.next_cursor)
    assert pages == 3
    assert seen == sorted(user.pk for user in users)
    assert preview_page(criteria, cursor=PreviewCursor(), size=3).reachable_ids == {users[0].pk, users[2].pk}

    last = preview_page(criteria, cursor=PreviewCursor.parse("last"), size=3)
    assert [user.pk for user in last.users] == seen[-3:]
    assert last.next_cursor is None
    back = preview_page(criteria, cursor=PreviewCursor.parse(last.previous_cursor), size=3)
    assert [user.pk for user in back.users] == seen[1:4]
    assert back.next_cursor == f"after:{seen[3]}"
    first = preview_page(criteria, cursor=PreviewCursor.parse(back.previous_cursor), size=3)
    assert [user.pk for user in first.users] == seen[:1]
    assert first.previous_cursor is None


@pytest.mark.parametrize("value", ["after:", "before:x", "middle", "after:-1"])
def test_preview_cursor_rejects_junk(value: str) -> None:
    with pytest.raises(ValueError, match=value):
        PreviewCursor.parse(value)


def test_empty_preview() -> None:
    page = preview_page(Criteria(countries=("JP",)), cursor=PreviewCursor())
    assert (page.users, page.next_cursor, page.previous_cursor) == ([], None, None)


def test_stats_totals_and_zero_filled_months() -> None:
    now = timezone.make_aware(datetime(2026, 3, 15, 12, 0))
    creator = UserFactory(role=Role.ADMIN)
    this_month = SegmentFactory(created_at=now, created_by=creator)
    SegmentFactory(created_at=timezone.make_aware(datetime(2026, 3, 1, 0, 0)), created_by=creator)
    january = SegmentFactory(created_at=timezone.make_aware(datetime(2026, 1, 31, 23, 59)), created_by=creator)
    SegmentFactory(created_at=timezone.make_aware(datetime(2025, 3, 31, 23, 0)), created_by=creator)  # 13 months ago
    SegmentExportFactory(segment=this_month, created_at=now, status=ExportStatus.SUCCESS)
    SegmentExportFactory(segment=this_month, created_at=now, status=ExportStatus.FAILED)
    SegmentExportFactory(segment=january, created_at=january.created_at, status=ExportStatus.RUNNING)
    SegmentExportFactory(
        segment=january, created_at=timezone.make_aware(datetime(2025, 4, 2)), status=ExportStatus.SUCCESS
    )

    stats = segment_stats(now=now)

    assert {key: value for key, value in stats.items() if key != "monthly"} == {
        "total_segments": 4,
        "segments_this_month": 2,
        "total_exports": 4,
        "successful_exports": 2,
        "failed_exports": 1,
        "exports_this_month": 2,
    }
    monthly = stats["monthly"]
    assert len(monthly) == 12
    assert [str(row["month"]) for row in monthly][:2] == ["2025-04-01", "2025-05-01"]
    assert str(monthly[-1]["month"]) == "2026-03-01"
    by_month = {str(row["month"]): (row["segments_created"], row["exports"]) for row in monthly}
    assert by_month["2026-03-01"] == (2, 2)
    assert by_month["2026-01-01"] == (1, 1)
    assert by_month["2025-04-01"] == (0, 1)
    assert by_month["2026-02-01"] == (0, 0)
    assert sum(row["segments_created"] for row in monthly) == 3
