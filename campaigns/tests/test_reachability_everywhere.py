"""One rule for who may be emailed, applied identically wherever an audience is read: the
segment's counts and preview, the campaign's snapshot, the claim of each batch, and the Brevo
list sync all take exactly the people `reachable_users` names, and follow it when it changes."""

from __future__ import annotations

from typing import Any

import django_rq
import pytest
from django.utils import timezone
from rq import SimpleWorker

from accounts.models import OptOutMethod, SuppressionReason, User
from accounts.services import suppression_add, user_opt_out
from accounts.tests.factories import UserFactory
from campaigns.models import CampaignRecipient, RecipientStatus
from campaigns.services import campaign_send
from campaigns.services.unsubscribe import DROPPED_AT_CLAIM
from campaigns.tests.factories import CampaignFactory
from segments.models import Segment
from segments.selectors import Criteria, PreviewCursor, criteria_counts, matching_users, preview_page, reachable_users
from segments.services import segment_sync_run, segment_sync_start

pytestmark = pytest.mark.django_db(transaction=True)


def emails(users: Any) -> set[str]:
    return {user.email.lower() for user in users}


def test_counts_preview_snapshot_claims_and_brevo_lists_take_the_same_people(brevo, settings, admin_user):
    settings.BREVO_RETRY_BASE_DELAY = 0.001
    settings.BREVO_PROCESS_POLL_DELAY = 0
    settings.CAMPAIGN_BATCH_SIZE = 2
    settings.CAMPAIGN_SEND_CONCURRENCY = 1
    spain = [UserFactory(country="ES", email=f"Reader{number}@Example.com") for number in range(8)]
    UserFactory(country="ES", is_verified=False)
    user_opt_out(user=UserFactory(country="ES"), method=OptOutMethod.LINK)
    suppression_add(email=UserFactory(country="ES").email.upper(), reason=SuppressionReason.HARD_BOUNCE, source="t")
    UserFactory(country="FR")
    segment = Segment.objects.create(name="Spain", countries=["ES"])
    criteria = Criteria.of(segment)
    rule = emails(reachable_users(matching_users(criteria)))
    assert rule == emails(spain)

    # The count, and the preview's marks.
    assert criteria_counts(criteria).reachable == len(rule)
    page = preview_page(criteria, cursor=PreviewCursor())
    assert emails(user for user in page.users if user.pk in page.reachable_ids) == rule

    # The Brevo list.
    export = segment_sync_run(export=segment_sync_start(segment=segment, by=None, enqueue=False))
    segment.refresh_from_db()
    assert export.status == "SUCCESS"
    assert set(brevo.lists[segment.brevo_list_id]["members"]) == rule

    # The snapshot: the campaign freezes the same people, then the first batch goes.
    campaign = CampaignFactory(created_by=admin_user, segment=segment)
    campaign_send(campaign=campaign, by=admin_user)
    queue = django_rq.get_queue("default")
    SimpleWorker([queue], connection=queue.connection).work(burst=True, max_jobs=2, with_scheduler=False)
    assert emails(CampaignRecipient.objects.filter(campaign=campaign)) == rule

    # The claims: whoever stops being reachable after the freeze is dropped as their batch is
    # claimed, whichever fact changed.
    pending = list(CampaignRecipient.objects.filter(campaign=campaign, status=RecipientStatus.PENDING).order_by("id"))
    opted, bounced, unverified = (User.objects.get(pk=row.user_id) for row in pending[:3])
    user_opt_out(user=opted, method=OptOutMethod.LINK)
    suppression_add(email=bounced.email, reason=SuppressionReason.COMPLAINT, source="brevo")
    User.objects.filter(pk=unverified.pk).update(is_verified=False, last_login=timezone.now())
    now_rule = emails(reachable_users(matching_users(criteria)))
    assert now_rule == rule - emails([opted, bounced, unverified])

    SimpleWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=False)

    dropped = CampaignRecipient.objects.filter(campaign=campaign, status=RecipientStatus.CANCELLED)
    assert emails(dropped) == emails([opted, bounced, unverified])
    assert set(dropped.values_list("last_error", flat=True)) == {DROPPED_AT_CLAIM}
    assert {email.lower() for email in brevo.accepted_emails()} == rule - emails(dropped)
    assert criteria_counts(criteria).reachable == len(now_rule)

    # And the next sync of the list follows the rule as it stands now.
    segment_sync_run(export=segment_sync_start(segment=segment, by=None, enqueue=False))
    assert set(brevo.lists[segment.brevo_list_id]["members"]) == now_rule
