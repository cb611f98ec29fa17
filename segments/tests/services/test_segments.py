from __future__ import annotations

import pytest

from accounts.models import Gender, PartnershipStatus, Role
from accounts.tests.factories import EnrollmentFactory, PropertyFactory, UserFactory
from campaigns.models import CampaignStatus
from campaigns.tests.factories import CampaignFactory
from core.errors import InvalidInputError, StateConflictError
from segments.models import Membership, Segment
from segments.selectors import Criteria
from segments.services import criteria_validate, segment_counts_refresh, segment_create, segment_delete, segment_update
from segments.tests.factories import SegmentExportFactory, SegmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def creator():
    return UserFactory(role=Role.MANAGER)


def error_of(criteria: Criteria) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        criteria_validate(criteria=criteria)
    return caught.value


def test_criteria_are_normalised() -> None:
    prop = PropertyFactory()
    cleaned = criteria_validate(
        criteria=Criteria(
            countries=(" gb", "FR", "GB"),
            states=(" London ", "", "London"),
            traffic_sources=("google", " "),
            properties=(prop.pk, prop.pk),
        )
    )
    assert cleaned == Criteria(
        countries=("FR", "GB"), states=("London",), traffic_sources=("google",), properties=(prop.pk,)
    )


@pytest.mark.parametrize("criteria", [Criteria(), Criteria(membership=Membership.ALL), Criteria(states=(" ",))])
def test_at_least_one_criterion(criteria: Criteria) -> None:
    error = error_of(criteria)
    assert error.field == "criteria"
    # Staff read the preset's label, never its stored value.
    assert error.message == "Choose at least one criterion; a membership other than “All members” counts as one."


def test_membership_other_than_all_is_a_criterion() -> None:
    assert criteria_validate(criteria=Criteria(membership=Membership.STAFF)).membership == Membership.STAFF


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        (Criteria(gender="OTHER"), "gender"),
        (Criteria(membership="VIP"), "membership"),
        (Criteria(countries=("GB", "XX")), "countries"),
        (Criteria(states=("x" * 101,)), "states"),
        (Criteria(traffic_sources=("x" * 51,)), "traffic_sources"),
        (Criteria(properties=(999_999,)), "properties"),
        (Criteria(agents=(999_999,)), "agents"),
        (Criteria(partners=(999_999,)), "partners"),
    ],
)
def test_invalid_values_name_their_field(criteria: Criteria, field: str) -> None:
    error = error_of(criteria)
    assert error.field == field
    assert error.as_payload() == {field: [error.message]}


def test_agents_must_have_role_agent() -> None:
    client = UserFactory(role=Role.CLIENT)
    agent = UserFactory(role=Role.AGENT)
    error = error_of(Criteria(agents=(agent.pk, client.pk)))
    assert error.field == "agents"
    assert str(client.pk) in error.message
    assert str(agent.pk) not in error.message.split(":")[1]


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.PARTNER, PartnershipStatus.PENDING), (Role.PARTNER, PartnershipStatus.SUSPENDED), (Role.AGENT, "ACTIVE")],
)
def test_partners_must_be_active_partners(role: str, status: str) -> None:
    user = UserFactory(role=role, partnership_status=status)
    assert error_of(Criteria(partners=(user.pk,))).field == "partners"


def test_every_bad_field_is_reported() -> None:
    error = error_of(Criteria(gender="X", countries=("ZZ",), properties=(999_999,)))
    payload = error.as_payload()
    assert set(payload) == {"gender", "countries", "properties"}


def test_create_saves_criteria_and_counts(creator) -> None:
    prop = PropertyFactory()
    agent = UserFactory(role=Role.AGENT)
    partner = UserFactory(role=Role.PARTNER, partnership_status=PartnershipStatus.ACTIVE)
    member = UserFactory(gender=Gender.FEMALE, referred_by_partner=partner)
    EnrollmentFactory(user=member, property=prop, agent=agent)
    UserFactory(gender=Gender.FEMALE, referred_by_partner=partner, is_verified=False)
    segment = segment_create(
        by=creator,
        name="  Women from the partner ",
        description="d",
        criteria=Criteria(gender=Gender.FEMALE, partners=(partner.pk,), countries=("gb",)),
    )
    segment.refresh_from_db()
    assert segment.name == "Women from the partner"
    assert segment.created_by == creator
    assert segment.countries == ["GB"]
    assert list(segment.partners.all()) == [partner]
    assert (segment.matching_count, segment.reachable_count) == (2, 1)
    assert segment.counts_refreshed_at is not None
    assert Criteria.of(segment).partners == (partner.pk,)


def test_create_rejects_duplicate_name_ignoring_case(creator) -> None:
    SegmentFactory(name="Londoners")
    with pytest.raises(InvalidInputError) as caught:
        segment_create(by=creator, name="LONDONERS", criteria=Criteria(states=("London",)))
    assert caught.value.field == "name"
    assert Segment.objects.count() == 1


def test_invalid_create_saves_nothing(creator) -> None:
    with pytest.raises(InvalidInputError):
        segment_create(by=creator, name="New", criteria=Criteria(agents=(999_999,)))
    assert not Segment.objects.exists()


def test_update_changes_only_what_is_given(creator) -> None:
    prop = PropertyFactory()
    segment = segment_create(by=creator, name="A", description="keep", criteria=Criteria(properties=(prop.pk,)))
    updated = segment_update(segment=segment, name="B")
    updated.refresh_from_db()
    assert (updated.name, updated.description, list(updated.properties.all())) == ("B", "keep", [prop])

    segment_update(segment=segment, criteria=Criteria(countries=("FR",)))
    segment.refresh_from_db()
    assert (segment.countries, list(segment.properties.all())) == (["FR"], [])


def test_update_keeps_own_name_and_refuses_anothers(creator) -> None:
    SegmentFactory(name="Taken")
    segment = segment_create(by=creator, name="Mine", criteria=Criteria(countries=("GB",)))
    segment_update(segment=segment, name="MINE")
    with pytest.raises(InvalidInputError) as caught:
        segment_update(segment=segment, name="taken", criteria=Criteria(countries=("FR",)))
    assert caught.value.field == "name"
    segment.refresh_from_db()
    assert (segment.name, segment.countries) == ("MINE", ["GB"])


def test_update_with_bad_criteria_saves_nothing(creator) -> None:
    segment = segment_create(by=creator, name="Mine", criteria=Criteria(countries=("GB",)))
    with pytest.raises(InvalidInputError):
        segment_update(segment=segment, name="Renamed", criteria=Criteria())
    segment.refresh_from_db()
    assert (segment.name, segment.countries) == ("Mine", ["GB"])


def test_counts_refresh_does_not_touch_updated_at() -> None:
    segment = SegmentFactory(membership=Membership.ACTIVE)
    UserFactory()
    before = Segment.objects.get(pk=segment.pk).updated_at
    segment_counts_refresh(segment=segment)
    segment.refresh_from_db()
    assert segment.updated_at == before
    assert segment.matching_count == Segment.objects.get(pk=segment.pk).matching_count >= 1


@pytest.mark.parametrize(
    "status", [CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED, CampaignStatus.DRAFT]
)
def test_delete_refused_while_a_campaign_depends_on_it(status: str) -> None:
    segment = SegmentFactory()
    campaign = CampaignFactory(subject="Hi", body_html="<p>Hi</p>", segment=segment, status=status)
    with pytest.raises(StateConflictError) as caught:
        segment_delete(segment=segment)
    assert caught.value.extra == {"campaigns": [campaign.pk]}
    assert segment.name in caught.value.message
    assert Segment.objects.filter(pk=segment.pk).exists()


@pytest.mark.parametrize("status", [CampaignStatus.SENT, CampaignStatus.CANCELLED, CampaignStatus.FAILED])
def test_delete_detaches_finished_campaigns(status: str) -> None:
    segment = SegmentFactory()
    SegmentExportFactory(segment=segment)
    campaign = CampaignFactory(subject="Hi", body_html="<p>Hi</p>", segment=segment, status=status)
    segment_delete(segment=segment)
    assert not Segment.objects.filter(pk=segment.pk).exists()
    campaign.refresh_from_db()
    assert campaign.segment is None


def test_delete_twice_is_harmless() -> None:
    segment = SegmentFactory()
    segment_delete(segment=segment)
    segment_delete(segment=segment)
    assert not Segment.objects.exists()
