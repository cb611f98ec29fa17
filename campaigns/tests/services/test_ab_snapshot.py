"""The A/B snapshot: every ledger row assigned in the INSERT ... SELECT that freezes the audience,
to a variant or the remainder; exact sizes, uniform, reproducible, independent of ids."""

from __future__ import annotations

from collections import Counter

import pytest

from accounts.models import MembershipStatus, Role, User
from campaigns.models import Campaign, CampaignRecipient, CampaignVariant, RecipientStatus
from campaigns.services import ledger_insert_audience
from campaigns.services.sending.snapshot import ab_test_size
from campaigns.tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


def users(count: int, prefix: str = "member") -> None:
    """`count` reachable users in one INSERT (no password hashing: thousands in a second)."""
    User.objects.bulk_create(
        User(
            email=f"{prefix}{index}@example.com",
            first_name="Member",
            role=Role.CLIENT,
            membership_status=MembershipStatus.ACTIVE,
            is_verified=True,
            country="GB",
        )
        for index in range(count)
    )


def ab_campaign(*, labels: str = "AB", share: int = 20, **fields) -> Campaign:
    campaign = CampaignFactory(ab_test_share=share, **fields)
    for label in labels:
        CampaignVariant.objects.create(campaign=campaign, label=label, subject=f"Subject {label}")
    return campaign


def assignment(campaign: Campaign) -> dict[int, tuple[str | None, bool, str]]:
    return {
        user_id: (variant, remainder, status)
        for user_id, variant, remainder, status in campaign.recipients.values_list(
            "user_id", "variant", "ab_remainder", "status"
        )
    }


@pytest.mark.parametrize(("audience", "share", "labels"), [(101, 20, "AB"), (103, 37, "ABC"), (12, 34, "ABCD")])
def test_sizes_are_exact(audience, share, labels):
    users(audience)
    campaign = ab_campaign(labels=labels, share=share)

    assert ledger_insert_audience(campaign=campaign) == audience

    rows = assignment(campaign)
    tested = ab_test_size(audience=audience, share=share)
    sizes = Counter(variant for variant, remainder, _ in rows.values() if not remainder)
    assert sum(sizes.values()) == tested == round(audience * share / 100 + 1e-9)
    assert set(sizes) == set(labels)
    assert max(sizes.values()) - min(sizes.values()) <= 1
    held = [row for row in rows.values() if row[1]]
    assert len(held) == audience - tested
    assert all(variant is None and status == RecipientStatus.HELD for variant, _, status in held)
    assert all(status == RecipientStatus.PENDING for _, remainder, status in rows.values() if not remainder)


def test_a_half_rounds_up():
    assert ab_test_size(audience=10, share=25) == 3  # 2.5
    assert ab_test_size(audience=1_000_000, share=20) == 200_000
    assert ab_test_size(audience=7, share=100) == 7


def test_the_split_is_the_same_every_time_for_a_campaign_and_differs_between_campaigns():
    users(400)
    campaign = ab_campaign(share=50)
    ledger_insert_audience(campaign=campaign)
    first = assignment(campaign)

    CampaignRecipient.objects.filter(campaign=campaign).delete()
    ledger_insert_audience(campaign=campaign)
    assert assignment(campaign) == first

    other = ab_campaign(share=50)
    ledger_insert_audience(campaign=other)
    assert assignment(other) != first


def chi_square(table: list[list[int]]) -> float:
    """Pearson's statistic of independence of a contingency table's rows and columns."""
    total = sum(map(sum, table))
    columns = [sum(column) for column in zip(*table, strict=True)]
    return sum(
        (observed - sum(row) * columns[index] / total) ** 2 / (sum(row) * columns[index] / total)
        for row in table
        for index, observed in enumerate(row)
    )


# Critical values at p = 0.0001 (a flaky test once in ten thousand seeds): chi-square with
# 27 and 9 degrees of freedom.
CHI2_27 = 63.4
CHI2_9 = 34.1


def test_the_split_is_uniform_and_owes_nothing_to_id_order_or_email():
    users(4000)
    campaign = ab_campaign(labels="ABCD", share=100)
    ledger_insert_audience(campaign=campaign)
    rows = sorted(campaign.recipients.values_list("user_id", "variant"))

    # Ten slices of consecutive ids (and so of emails, numbered like the ids) against the four
    # variants: no slice leans towards a variant.
    slices = [rows[index * 400 : (index + 1) * 400] for index in range(10)]
    table = [[sum(1 for _, variant in part if variant == label) for label in "ABCD"] for part in slices]
    assert chi_square(table) < CHI2_27, table
    # Nor does parity: ids dealt round-robin would fail this.
    parity = [
        [sum(1 for user_id, variant in rows if user_id % 2 == odd and variant == label) for label in "ABCD"]
        for odd in (0, 1)
    ]
    assert chi_square(parity) < CHI2_27


def test_the_test_share_is_a_uniform_sample():
    users(4000)
    campaign = ab_campaign(share=20)
    ledger_insert_audience(campaign=campaign)
    rows = sorted(campaign.recipients.values_list("user_id", "ab_remainder"))

    slices = [rows[index * 400 : (index + 1) * 400] for index in range(10)]
    table = [[sum(1 for _, remainder in part if remainder is flag) for flag in (False, True)] for part in slices]
    assert chi_square(table) < CHI2_9, table


def test_new_members_join_the_remainder_or_a_pure_split():
    users(20)
    campaign = ab_campaign(share=50)
    ledger_insert_audience(campaign=campaign)
    users_before = set(assignment(campaign))
    users(4, prefix="late")

    assert ledger_insert_audience(campaign=campaign, test_share=0) == 4
    late = {user: row for user, row in assignment(campaign).items() if user not in users_before}
    assert set(late.values()) == {(None, True, RecipientStatus.HELD)}

    decided = ab_campaign(share=50, ab_winner="B")
    ledger_insert_audience(campaign=decided, test_share=0)
    assert set(assignment(decided).values()) == {("B", True, RecipientStatus.PENDING)}

    split = ab_campaign(labels="ABC", share=100)
    ledger_insert_audience(campaign=split)
    assert Counter(variant for variant, _, _ in assignment(split).values()) == {"A": 8, "B": 8, "C": 8}


def test_a_campaign_without_variants_is_not_split():
    users(5)
    campaign = CampaignFactory()
    ledger_insert_audience(campaign=campaign)

    assert set(assignment(campaign).values()) == {(None, False, RecipientStatus.PENDING)}
