"""Segment counts are exact: for every shape of criteria, the matching and reachable counts equal
a computation in Python over the same rows, while opt-outs, suppressions, verifications and
the users' own columns change between counts."""

from __future__ import annotations

import random

import pytest

from accounts.models import (
    STAFF_ROLES,
    Enrollment,
    Gender,
    Lead,
    LeadStatus,
    MembershipStatus,
    OptOutMethod,
    Role,
    Suppression,
    SuppressionReason,
    User,
)
from accounts.services import suppression_add, user_opt_in, user_opt_out
from accounts.tests.factories import EnrollmentFactory, LeadFactory, PropertyFactory, UserFactory
from segments.models import Membership
from segments.selectors import Criteria, PreviewCursor, criteria_counts, matching_users, preview_page, reachable_users

pytestmark = pytest.mark.django_db

COUNTRIES = ("GB", "US", "ES")
STATES = ("London", "Texas", "Madrid")
SOURCES = ("google", "newsletter", "")


def matches(user: User, criteria: Criteria, enrolled: dict[int, set[int]], handled: dict[int, set[int]]) -> bool:
    """The criteria applied to one user in Python: what the SQL must agree with."""
    membership = {
        Membership.ACTIVE: user.membership_status == MembershipStatus.ACTIVE,
        Membership.INACTIVE: user.membership_status == MembershipStatus.INACTIVE,
        Membership.STAFF: user.role in STAFF_ROLES,
    }.get(criteria.membership, True)
    return (
        membership
        and (not criteria.gender or user.gender == criteria.gender)
        and (not criteria.countries or user.country in criteria.countries)
        and (not criteria.states or user.state in criteria.states)
        and (not criteria.traffic_sources or user.referral_source in criteria.traffic_sources)
        and (not criteria.partners or user.referred_by_partner_id in criteria.partners)
        and (not criteria.properties or bool(enrolled.get(user.pk, set()) & set(criteria.properties)))
        and (not criteria.agents or bool(handled.get(user.pk, set()) & set(criteria.agents)))
    )


def expected(criteria: Criteria) -> tuple[int, int]:
    suppressed = set(Suppression.objects.values_list("email", flat=True))
    enrolled: dict[int, set[int]] = {}
    handled: dict[int, set[int]] = {}
    for user_id, property_id, agent_id in Enrollment.objects.values_list("user_id", "property_id", "agent_id"):
        enrolled.setdefault(user_id, set()).add(property_id)
        if agent_id is not None:
            handled.setdefault(user_id, set()).add(agent_id)
    for user_id, agent_id in Lead.objects.filter(status=LeadStatus.CLOSED).values_list("user_id", "agent_id"):
        handled.setdefault(user_id, set()).add(agent_id)
    matching = [user for user in User.objects.all() if matches(user, criteria, enrolled, handled)]
    reachable = [
        user
        for user in matching
        if user.is_verified and user.email_opted_out_at is None and user.email.lower() not in suppressed
    ]
    return len(matching), len(reachable)


@pytest.fixture
def population():
    rng = random.Random(11)
    properties = [PropertyFactory() for _ in range(4)]
    agents = [UserFactory(role=Role.AGENT) for _ in range(3)]
    partners = [UserFactory(role=Role.PARTNER) for _ in range(3)]
    people = []
    for number in range(60):
        user = UserFactory(
            email=f"Person{number}@Example.com",
            role=rng.choice([Role.CLIENT, Role.CLIENT, Role.STAFF, Role.MANAGER]),
            membership_status=rng.choice(list(MembershipStatus)),
            gender=rng.choice([*Gender.values, ""]),
            country=rng.choice(COUNTRIES),
            state=rng.choice(STATES),
            referral_source=rng.choice(SOURCES),
            referred_by_partner=rng.choice([*partners, None]),
            is_verified=rng.random() < 0.85,
        )
        for chosen in rng.sample(properties, rng.randrange(3)):
            EnrollmentFactory(user=user, property=chosen, agent=rng.choice([*agents, None]))
        if rng.random() < 0.3:
            LeadFactory(user=user, agent=rng.choice(agents), status=rng.choice(list(LeadStatus)))
        people.append(user)
    return rng, people, [item.pk for item in properties], [item.pk for item in agents], [item.pk for item in partners]


def shapes(properties: list[int], agents: list[int], partners: list[int]) -> list[Criteria]:
    return [
        Criteria(),
        Criteria(membership=Membership.ACTIVE),
        Criteria(membership=Membership.INACTIVE),
        Criteria(membership=Membership.STAFF),
        Criteria(gender=Gender.FEMALE),
        Criteria(countries=("GB", "ES")),
        Criteria(countries=("US",), states=("Texas",)),
        Criteria(traffic_sources=("google",)),
        Criteria(partners=tuple(partners[:2])),
        Criteria(properties=tuple(properties[:2])),
        Criteria(agents=(agents[0],)),
        Criteria(properties=tuple(properties), countries=("GB", "US"), membership=Membership.ACTIVE),
        Criteria(agents=tuple(agents), gender=Gender.MALE, traffic_sources=("google", "newsletter")),
        Criteria(
            properties=tuple(properties[1:]),
            agents=tuple(agents[:2]),
            countries=COUNTRIES,
            membership=Membership.ACTIVE,
            traffic_sources=("google",),
        ),
    ]


def change_something(rng: random.Random, people: list[User]) -> None:
    """One change of the kind that moves counts: an opt-out or back, a suppression added or
    lifted (any case), a verification, or a column a criterion reads."""
    user = rng.choice(people)
    user.refresh_from_db()
    match rng.randrange(6):
        case 0:
            user_opt_out(user=user, method=OptOutMethod.LINK)
        case 1:
            user_opt_in(user=user, method=OptOutMethod.ADMIN)
        case 2:
            suppression_add(email=user.email.upper(), reason=SuppressionReason.HARD_BOUNCE, source="brevo")
        case 3:
            Suppression.objects.filter(email=user.email.lower()).delete()
        case 4:
            User.objects.filter(pk=user.pk).update(is_verified=not user.is_verified)
        case _:
            user.country = rng.choice(COUNTRIES)
            user.membership_status = rng.choice(list(MembershipStatus))
            user.save()


def test_counts_equal_an_independent_computation_as_the_audience_changes(population):
    rng, people, properties, agents, partners = population
    criteria_shapes = shapes(properties, agents, partners)
    for round_number in range(8):
        for criteria in criteria_shapes:
            counts = criteria_counts(criteria)
            assert (counts.matching, counts.reachable) == expected(criteria), (round_number, criteria)
            assert reachable_users(matching_users(criteria)).count() == counts.reachable
        for _ in range(6):
            change_something(rng, people)


def test_preview_pages_mark_exactly_the_reachable_members(population):
    rng, people, *_ = population
    for _ in range(10):
        change_something(rng, people)
    suppressed = set(Suppression.objects.values_list("email", flat=True))

    seen: list[int] = []
    cursor = PreviewCursor()
    while True:
        page = preview_page(Criteria(membership=Membership.ALL), cursor=cursor, size=7)
        for user in page.users:
            by_rule = user.is_verified and user.email_opted_out_at is None and user.email.lower() not in suppressed
            assert (user.pk in page.reachable_ids) == by_rule
        seen += [user.pk for user in page.users]
        if page.next_cursor is None:
            break
        cursor = PreviewCursor.parse(page.next_cursor)
    assert seen == sorted(User.objects.values_list("pk", flat=True))
