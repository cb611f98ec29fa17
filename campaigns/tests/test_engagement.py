"""Engagement criteria: who each one matches on a generated history, checked against a
computation from the history's events (engagement_history), with reachability applied on top."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import pytest
from django.db.models import Count

from accounts.models import User
from campaigns.criteria import ENGAGEMENT_CRITERIA
from campaigns.engagement import engagement_criteria_clean
from campaigns.models import CampaignRecipient
from campaigns.tests.engagement_history import History, generate_history
from segments.criteria_providers import (
    ENGINE_FIELDS,
    CriterionFieldClashError,
    criteria_provider_register,
    criteria_providers,
)
from segments.models import Membership
from segments.selectors import Criteria, PreviewCursor, criteria_counts, matching_users, preview_page, reachable_users

pytestmark = pytest.mark.django_db

CAMPAIGN_FIELDS = (
    "received_campaigns",
    "opened_campaigns",
    "clicked_campaigns",
    "not_opened_campaigns",
    "not_clicked_campaigns",
)


@pytest.fixture
def history() -> History:
    return generate_history()


def _check(history: History, criteria: dict[str, Any], *, membership: str = Membership.ALL) -> set[int]:
    """Matching and reachable members equal the independent computation; returns the matching ids."""
    cleaned, errors = engagement_criteria_clean(criteria)
    assert errors == {}
    query = Criteria(extra=cleaned, membership=membership)
    expected_rules = dict(criteria)
    if membership == Membership.ACTIVE:
        expected_rules["membership"] = membership
    expected = history.expected(expected_rules)
    people = {user.pk for user in history.users}
    found = set(matching_users(query).filter(pk__in=people).values_list("pk", flat=True))
    assert found == expected, criteria
    reachable = set(reachable_users(matching_users(query)).filter(pk__in=people).values_list("pk", flat=True))
    assert reachable == expected & history.reachable, criteria
    counts = criteria_counts(query)
    # Every user of the database is one of the history's people, so counts compare directly.
    assert (counts.matching, counts.reachable) == (len(expected), len(expected & history.reachable))
    return found


def _campaign_sets(history: History) -> list[list[int]]:
    ids = [campaign.pk for campaign in history.campaigns]
    return [[pk] for pk in ids] + [list(pair) for pair in combinations(ids, 2)] + [ids]


@pytest.mark.parametrize("name", CAMPAIGN_FIELDS)
def test_each_campaign_criterion_matches_the_history(history, name):
    assert User.objects.count() == len(history.users)
    sizes = [len(_check(history, {name: ids})) for ids in _campaign_sets(history)]
    # The history is varied enough that the criterion selects some people and not others.
    assert any(0 < size < len(history.users) for size in sizes)


@pytest.mark.parametrize("name", ["engaged_within_days", "not_engaged_within_days"])
def test_each_window_criterion_matches_the_history(history, name):
    sizes = [len(_check(history, {name: days})) for days in (1, 3, 5, 7, 14, 30, 365)]
    assert any(0 < size < len(history.users) for size in sizes)


def test_criteria_combine_with_and_and_with_the_engines_own(history):
    first, second, third, _ = (campaign.pk for campaign in history.campaigns)
    mixes = [
        {"opened_campaigns": [first], "not_clicked_campaigns": [second, third]},
        {"received_campaigns": [first, second], "not_opened_campaigns": [third], "engaged_within_days": 30},
        {"clicked_campaigns": [second], "not_engaged_within_days": 7},
        {"not_opened_campaigns": [first], "not_clicked_campaigns": [first]},
    ]
    for mix in mixes:
        _check(history, mix)
        _check(history, mix, membership=Membership.ACTIVE)


def test_proxy_only_openers_are_among_those_who_did_not_open(history):
    campaign_ids = {campaign.pk for campaign in history.campaigns}
    machine_only = {
        (user_id, campaign_id)
        for user_id, opened_by_machine in history.machine_opened.items()
        for campaign_id in opened_by_machine - history.opened[user_id]
        if campaign_id in campaign_ids
    }
    assert machine_only, "the history has recipients opened only by a proxy"
    for user_id, campaign_id in machine_only:
        not_opened = _check(history, {"not_opened_campaigns": [campaign_id]})
        opened = _check(history, {"opened_campaigns": [campaign_id]})
        assert user_id in not_opened
        assert user_id not in opened


def test_several_rows_of_one_campaign_count_as_one_person(history):
    # After an address change and a resend, one person has two rows of a campaign: one person.
    doubled = (
        CampaignRecipient.objects.filter(user__isnull=False, status="SENT")
        .values("user_id", "campaign_id")
        .order_by()
        .annotate(rows=Count("id"))
        .filter(rows__gt=1)
    )
    assert doubled.exists()
    for entry in doubled[:5]:
        criteria = {"received_campaigns": [entry["campaign_id"]]}
        assert entry["user_id"] in _check(history, criteria)
        assert matching_users(Criteria(extra=criteria)).filter(pk=entry["user_id"]).count() == 1


# --- the seam --------------------------------------------------------------------------------


def test_campaigns_registers_its_criteria_with_the_engine():
    assert ENGAGEMENT_CRITERIA in criteria_providers()
    # Registering again changes nothing; another provider may not take a registered name.
    criteria_provider_register(ENGAGEMENT_CRITERIA)
    assert criteria_providers().count(ENGAGEMENT_CRITERIA) == 1

    class Clashing:
        title = "Clash"
        fields = ENGAGEMENT_CRITERIA.fields[:1]

    with pytest.raises(CriterionFieldClashError, match="received_campaigns"):
        criteria_provider_register(Clashing())  # type: ignore[arg-type]


def test_engine_field_names_are_the_engines_criteria():
    assert {name for name in Criteria.__dataclass_fields__ if name != "extra"} == ENGINE_FIELDS


@pytest.mark.parametrize(
    "criteria",
    [
        {"opened_campaigns": [0, 1]},
        {"not_clicked_campaigns": [0]},
        {"engaged_within_days": 30},
        {"not_engaged_within_days": 10},
    ],
)
def test_preview_pages_walked_both_ways_give_each_member_once(history: History, criteria: dict[str, Any]):
    # The keyset bound goes into the ledger and summary subqueries: pages from the middle too.
    values = {
        name: [history.campaigns[index].pk for index in value] if isinstance(value, list) else value
        for name, value in criteria.items()
    }
    expected = sorted(_check(history, values))
    query = Criteria(extra=engagement_criteria_clean(values)[0])
    forward, cursor = [], PreviewCursor()
    while True:
        page = preview_page(query, cursor=cursor, size=3)
        forward += [user.pk for user in page.users]
        if page.next_cursor is None:
            break
        cursor = PreviewCursor.parse(page.next_cursor)
    backward, cursor = [], PreviewCursor(last=True)
    while True:
        page = preview_page(query, cursor=cursor, size=3)
        backward = [user.pk for user in page.users] + backward
        if page.previous_cursor is None:
            break
        cursor = PreviewCursor.parse(page.previous_cursor)
    assert forward == backward == expected
