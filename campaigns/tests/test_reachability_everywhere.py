"""One rule for who may be emailed, applied identically wherever an audience is read: the
segment's count and preview, the campaign's snapshot, the claim of each batch, and the Brevo
list sync all take exactly the people the rule names from the facts, and follow it when the facts
change between one and the next."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from accounts.models import OptOutMethod, Suppression, SuppressionReason, User
from accounts.services import person_erase, suppression_add, suppressions_import, user_opt_out
from accounts.tests.factories import UserFactory
from campaigns.models import CampaignRecipient, CampaignStatus, RecipientStatus
from campaigns.services import campaign_send
from campaigns.services.unsubscribe import DROPPED_AT_CLAIM
from campaigns.tests.factories import CampaignFactory
from segments.models import Segment
from segments.selectors import Criteria, PreviewCursor, criteria_counts, preview_page
from segments.services import segment_sync_run, segment_sync_start

pytestmark = pytest.mark.django_db(transaction=True)


def emails(users: Any) -> set[str]:
    return {user.email.lower() for user in users}


def by_rule(country: str) -> set[str]:
    """The rule computed here from the facts alone, not from the flag the database keeps: a
    verified address, not opted out, not on the suppression list in any case."""
    suppressed = {email.lower() for email in Suppression.objects.values_list("email", flat=True)}
    return {
        user.email.lower()
        for user in User.objects.filter(country=country)
        if user.is_verified and user.email_opted_out_at is None and user.email.lower() not in suppressed
    }


def sync_list(segment: Segment, brevo: Any) -> set[str]:
    """Mirror the segment into its Brevo list now; what the fake Brevo's list then holds."""
    export = segment_sync_run(export=segment_sync_start(segment=segment, by=None, enqueue=False))
    assert export.status == "SUCCESS", export.error_message
    segment.refresh_from_db()
    return {email.lower() for email in brevo.lists[segment.brevo_list_id]["members"]}


def test_count_snapshot_claims_sends_and_brevo_list_take_the_same_people_whatever_changes_between(
    fast_brevo, settings, admin_user, run_jobs, drain
):
    settings.CAMPAIGN_BATCH_SIZE = 3
    settings.CAMPAIGN_SEND_CONCURRENCY = 1
    readers = [UserFactory(country="ES", email=f"Reader{number}@Example.com") for number in range(12)]
    # Every reason not to be emailed, present before anything is counted.
    UserFactory(country="ES", is_verified=False)
    user_opt_out(user=UserFactory(country="ES"), method=OptOutMethod.LINK)
    bounced = UserFactory(country="ES", email="Bounced@Example.com")
    suppression_add(email=bounced.email.upper(), reason=SuppressionReason.HARD_BOUNCE, source="brevo:hard_bounce")
    suppressions_import(
        lines=["  COMPLAINED@example.COM ,spam\n"], source="import", default_reason=SuppressionReason.COMPLAINT
    )
    UserFactory(country="ES", email="complained@example.com")
    UserFactory(country="ES", email="gone@example.com")
    person_erase(email="Gone@Example.com", by=None, via="command")
    person_erase(email="returning@example.com", by=None, via="command")
    UserFactory(country="ES", email="Returning@Example.com")  # signs up again: erased stays unreachable
    UserFactory(country="FR", email="elsewhere@example.com")  # reachable, not in the segment
    segment = Segment.objects.create(name="Spain", countries=["ES"])
    criteria = Criteria.of(segment)
    assert by_rule("ES") == emails(readers)

    # The count, the preview's marks and the list, at the same moment.
    assert criteria_counts(criteria).reachable == len(by_rule("ES")) == 12
    page = preview_page(criteria, cursor=PreviewCursor())
    assert emails(user for user in page.users if user.pk in page.reachable_ids) == by_rule("ES")
    assert sync_list(segment, fast_brevo) == by_rule("ES")

    # Between the count and the snapshot, an address is suppressed (a bounce from another send).
    suppression_add(email=readers[0].email.upper(), reason=SuppressionReason.HARD_BOUNCE, source="brevo:hard_bounce")
    counted_at_send = criteria_counts(criteria).reachable
    assert counted_at_send == len(by_rule("ES")) == 11

    # The snapshot freezes exactly who the count said, at that moment.
    campaign = CampaignFactory(created_by=admin_user, segment=segment)
    campaign_send(campaign=campaign, by=admin_user)
    assert run_jobs(max_jobs=1) == 1  # the start job: the freeze, no batch yet
    campaign.refresh_from_db()
    frozen = CampaignRecipient.objects.filter(campaign=campaign)
    assert campaign.audience_frozen_at is not None
    assert set(frozen.values_list("status", flat=True)) == {RecipientStatus.PENDING}
    assert campaign.recipients_total == frozen.count() == counted_at_send
    assert emails(frozen) == by_rule("ES")

    # Between the snapshot and the claims, four more stop being reachable, each another way.
    opted, suppressed, unverified, erased = readers[1], readers[4], readers[7], readers[10]
    user_opt_out(user=opted, method=OptOutMethod.BREVO)
    suppressions_import(
        lines=[f"{suppressed.email.upper()},blocked\n"], source="import", default_reason=SuppressionReason.BLOCKED
    )
    User.objects.filter(pk=unverified.pk).update(is_verified=False, last_login=timezone.now())
    erased_row = frozen.get(user=erased)
    person_erase(email=erased.email, by=None, via="command")
    became_unreachable = {opted.pk, suppressed.pk, unverified.pk}
    assert by_rule("ES") == emails(readers[1:]) - emails([opted, suppressed, unverified, erased])

    # The real pipeline sends (the erasure queued a sync of the list too; it runs with the batches).
    drain()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    dropped = frozen.filter(status=RecipientStatus.CANCELLED)
    assert set(dropped.values_list("last_error", flat=True)) == {DROPPED_AT_CLAIM}
    assert {row.user_id for row in dropped} == {*became_unreachable, None}
    assert erased_row.pk in {row.pk for row in dropped}
    sent = {email.lower() for email in fast_brevo.accepted_emails()}
    assert len(fast_brevo.accepted_emails()) == len(sent)
    assert sent == emails(frozen.filter(status=RecipientStatus.SENT))
    assert len(sent) == counted_at_send - len(became_unreachable) - 1 == 7
    assert sent == by_rule("ES")
    assert criteria_counts(criteria).reachable == len(sent)

    # And the list, synced now, holds the people who were sent the campaign, no one else.
    assert sync_list(segment, fast_brevo) == sent


def test_an_address_changed_after_the_freeze_is_not_emailed_on_the_persons_standing(
    fast_brevo, settings, admin_user, run_jobs, drain
):
    """The rule is about an address: a ledger row is sent only while its person may be emailed
    at the address it froze, as a snapshot taken at claim time would freeze them."""
    settings.CAMPAIGN_BATCH_SIZE = 2
    moved, recased, stayed = (UserFactory(email=f"reader{number}@example.com") for number in range(3))
    campaign = CampaignFactory(created_by=admin_user)
    campaign_send(campaign=campaign, by=admin_user)
    assert run_jobs(max_jobs=1) == 1  # the freeze
    frozen = CampaignRecipient.objects.filter(campaign=campaign)
    assert emails(frozen) == emails([admin_user, moved, recased, stayed])

    # The person moves to a new address, and the old one, no longer theirs, bounces elsewhere.
    moved.email = "new-address@example.com"
    moved.save(update_fields=["email"])
    suppression_add(email="reader0@example.com", reason=SuppressionReason.HARD_BOUNCE, source="brevo:hard_bounce")
    recased.email = "Reader1@Example.com"
    recased.save(update_fields=["email"])
    drain()

    assert {email.lower() for email in fast_brevo.accepted_emails()} == emails([admin_user, recased, stayed])
    assert frozen.get(user=moved).status == RecipientStatus.CANCELLED
    assert frozen.get(user=moved).last_error == DROPPED_AT_CLAIM
