"""The demo people: one seeded random stream of users with their enrollments and leads, and the
demo properties. Pure: nothing here touches the database."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from accounts.models import BACKOFFICE_ROLES, Gender, LeadStatus, Property, Role
from demo.population import (
    CAST,
    COUNTRIES,
    ENROLLMENT_AGENT_SHARE,
    ENROLLMENTS_PER_CLIENT,
    FEMALE_NAMES,
    GENDERS,
    JOIN_WINDOW,
    LAST_NAMES,
    LEAD_AGENT_SHARE,
    LEAD_STATUS,
    LEADS_PER_CLIENT,
    MALE_NAMES,
    MEMBERSHIP,
    PARTNERSHIP,
    PHONE_SHARE,
    PROPERTY_KINDS,
    PROPERTY_PLACES,
    REFERRAL_SOURCE_PARTNER,
    REFERRED_SHARE,
    REFERRING_PARTNERSHIPS,
    ROLES,
    TRAFFIC_SOURCES,
    VERIFIED_SHARE,
)
from demo.rows import DemoEnrollment, DemoLead, DemoRecord, DemoUser, demo_property_code


def _weighted(pairs: Iterable[tuple[Any, int]]) -> tuple[Any, ...]:
    """A lookup table where each value appears `weight` times: one random() picks from it."""
    return tuple(value for value, weight in pairs for _ in range(weight))


def demo_users(*, users: int, seed: int, now: datetime, property_count: int) -> Iterator[DemoRecord]:
    """Yield `users` demo people in order, each with their enrollments and leads.

    Pure and streaming: nothing is kept but the emails of agents and partners seen so far (whom
    later clients are attached to). Times are whole Unix seconds; the database converts them.
    The loop is written for speed (a million iterations): table lookups instead of
    `random.choices`, plain strings instead of enum members, integers instead of datetimes.
    """
    rng = random.Random(seed)
    rand = rng.random
    randrange = rng.randrange
    end = int(now.timestamp())
    window = int(JOIN_WINDOW.total_seconds())
    client, agent_role, partner = Role.CLIENT.value, Role.AGENT.value, Role.PARTNER.value
    female, male = Gender.FEMALE.value, Gender.MALE.value
    open_status = LeadStatus.OPEN.value
    referring = {status.value for status in REFERRING_PARTNERSHIPS}
    backoffice = {role.value for role in BACKOFFICE_ROLES}
    cast = tuple((str(role), str(partnership)) for role, partnership in CAST)
    roles = _weighted((str(role), weight) for role, weight in ROLES)
    memberships = _weighted((str(status), weight) for status, weight in MEMBERSHIP)
    genders = _weighted((str(gender), weight) for gender, weight in GENDERS)
    countries = _weighted((country, country.weight) for country in COUNTRIES)
    sources = _weighted(TRAFFIC_SOURCES)
    partnerships = _weighted((str(status), weight) for status, weight in PARTNERSHIP)
    enrollment_counts = _weighted(ENROLLMENTS_PER_CLIENT)
    lead_counts = _weighted(LEADS_PER_CLIENT)
    lead_statuses = _weighted((str(status), weight) for status, weight in LEAD_STATUS)
    any_names = FEMALE_NAMES + MALE_NAMES
    last_names = LAST_NAMES
    property_codes = [demo_property_code(index) for index in range(property_count)]
    agents: list[str] = []
    referrers: list[str] = []

    for number in range(1, users + 1):
        email = "user%07d@example.com" % number  # noqa: UP031 (the fastest formatting here)
        if number <= len(cast):
            role, partnership = cast[number - 1]
        else:
            role = roles[int(rand() * len(roles))]
            partnership = partnerships[int(rand() * len(partnerships))] if role == partner else ""
        gender = genders[int(rand() * len(genders))]
        first_names = FEMALE_NAMES if gender == female else MALE_NAMES if gender == male else any_names
        phone = state = country_code = ""
        if rand() > 0.03:
            country = countries[int(rand() * len(countries))]
            country_code = country.code
            if rand() < PHONE_SHARE:
                digits = country.national_digits
                phone = f"+{country.dialing_code}{randrange(2 * 10 ** (digits - 1), 10**digits)}"
            if rand() > 0.05:
                state = country.states[int(rand() * len(country.states))]
        referrer = ""
        if role == client and referrers and rand() < REFERRED_SHARE:
            # A few partners bring most referrals.
            referrer = referrers[int(len(referrers) * rand() ** 2)]
            source = REFERRAL_SOURCE_PARTNER
        else:
            source = sources[int(rand() * len(sources))]
        # rand() ** 1.5 leans towards recent sign-ups.
        joined = end - int(window * rand() ** 1.5)
        user = DemoUser(
            number,
            email,
            first_names[int(rand() * len(first_names))],
            last_names[int(rand() * len(last_names))],
            phone,
            role,
            role in backoffice,
            memberships[int(rand() * len(memberships))],
            rand() < VERIFIED_SHARE,
            gender,
            country_code,
            state,
            source,
            partnership,
            referrer,
            joined,
        )
        enrollments: list[DemoEnrollment] = []
        leads: list[DemoLead] = []
        if role == client:
            # One agent looks after a client: their enrollments and leads.
            agent = agents[int(rand() * len(agents))] if agents else None
            chosen: list[int] = []
            for _ in range(enrollment_counts[int(rand() * len(enrollment_counts))]):
                index = int(property_count * rand() ** 1.6)  # a few popular properties
                if index not in chosen:
                    chosen.append(index)
                    enrolled_agent = agent if rand() < ENROLLMENT_AGENT_SHARE else None
                    enrolled = joined + int((end - joined) * rand())
                    enrollments.append(DemoEnrollment(email, property_codes[index], enrolled_agent, enrolled))
            for _ in range(lead_counts[int(rand() * len(lead_counts))]):
                created = joined + int((end - joined) * rand())
                status = lead_statuses[int(rand() * len(lead_statuses))]
                closed = created + int((end - created) * rand()) if status != open_status else None
                lead_agent = agent if rand() < LEAD_AGENT_SHARE else None
                leads.append(DemoLead(email, lead_agent, status, created, closed))
        elif role == agent_role:
            agents.append(email)
        elif role == partner and partnership in referring:
            referrers.append(email)
        yield DemoRecord(user, tuple(enrollments), tuple(leads))


def demo_properties(*, seed: int, count: int) -> list[Property]:
    """The first `count` demo properties (unsaved), named from a seed-shuffled list of places."""
    rng = random.Random(f"{seed}:properties")
    places = list(PROPERTY_PLACES)
    rng.shuffle(places)
    return [
        Property(
            code=demo_property_code(index),
            name=f"{places[index % len(places)]} {PROPERTY_KINDS[(index // len(places)) % len(PROPERTY_KINDS)]}",
        )
        for index in range(count)
    ]
