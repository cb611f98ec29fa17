"""Erasing a person end to end: every table loses the address, Brevo's list loses it through the
sync, campaign counts stay, and the address stays unreachable if it signs up again.

Here in campaigns, the top app, because the erasure reaches every app's data.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import models
from django.db.models import Q

from accounts.models import Erasure, OptOutMethod, Suppression, SuppressionReason, User, erasure_hash
from accounts.services import person_erase, suppression_add, user_opt_out
from accounts.tests.factories import UserFactory
from campaigns.models import CampaignRecipient, CampaignStatus, RecipientStatus
from campaigns.selectors import campaign_link_clicks, campaign_stats
from campaigns.services.tracking import tracking_events_process_pending
from campaigns.services.tracking_intake import IncomingEvent, tracking_events_store
from campaigns.tests.factories import CampaignFactory, CampaignRecipientFactory
from core.errors import InvalidInputError
from segments.models import Membership
from segments.selectors import reachable_users
from segments.services import segment_sync_run, segment_sync_start
from segments.tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = "erase.me@example.com"
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def event(row: CampaignRecipient | None, esp_event: str, minutes: int, *, email: str = "", link: str = "") -> None:
    at = T0 + timedelta(minutes=minutes)
    address = email or (row.email if row else "")
    tracking_events_store(
        events=[
            IncomingEvent(
                event_type=esp_event,
                message_id=row.message_id if row else "<unknown@smtp-relay.mailin.fr>",
                recipient=address,
                timestamp=at,
                click_url=link or None,
                mta_response=None,
                payload={"event": esp_event, "email": address, "ts_event": int(at.timestamp())},
            )
        ]
    )


def tables_holding(address: str) -> list[str]:
    """Every model with a text column (or JSON) that contains the address, in any case."""
    found = []
    for model in apps.get_models():
        fields = [
            field.name
            for field in model._meta.concrete_fields
            if isinstance(field, models.CharField | models.TextField | models.JSONField)
        ]
        if not fields:
            continue
        condition = Q()
        for name in fields:
            condition |= Q(**{f"{name}__icontains": address})
        if model._default_manager.filter(condition).exists():
            found.append(model._meta.label)
    return found


@pytest.fixture
def person(brevo, settings, admin_user):
    """Someone with a trace everywhere: a Brevo list, a campaign ledger row with events and a
    click, an unmatched event, an opt-out, a suppression."""
    settings.BREVO_RETRY_BASE_DELAY = 0.001
    settings.BREVO_PROCESS_POLL_DELAY = 0
    user = UserFactory(email="Erase.Me@Example.com", first_name="Erin", country="ES")
    UserFactory(email="stays@example.com", country="ES")
    segment = SegmentFactory(name="Spain", countries=["ES"], membership=Membership.ALL, created_by=None)
    segment_sync_run(export=segment_sync_start(segment=segment, by=admin_user, enqueue=False))
    segment.refresh_from_db()
    assert ADDRESS in brevo.lists[segment.brevo_list_id]["members"]

    campaign = CampaignFactory(status=CampaignStatus.SENT, created_by=admin_user)
    rows = [
        CampaignRecipientFactory(
            campaign=campaign,
            user=someone,
            email=someone.email,
            first_name=someone.first_name,
            status=RecipientStatus.SENT,
            message_id=f"<erasure.{someone.pk}@smtp-relay.mailin.fr>",
            sent_at=T0,
        )
        for someone in User.objects.filter(country="ES").order_by("pk")
    ]
    for row in rows:
        event(row, "delivered", 1)
        event(row, "opened", 2)
        event(row, "click", 3, link="https://example.com/offer")
    event(None, "delivered", 4, email=ADDRESS.upper())
    tracking_events_process_pending()
    user_opt_out(user=user, method=OptOutMethod.LINK, campaign_id=campaign.pk)
    suppression_add(email=ADDRESS, reason=SuppressionReason.HARD_BOUNCE, source="brevo:hard_bounce")
    return user, campaign, segment


def test_erase_person_removes_the_address_everywhere_and_keeps_the_counts(person, brevo, run_jobs):
    user, campaign, segment = person
    before = campaign_stats(campaign), campaign_link_clicks(campaign=campaign)
    assert tables_holding(ADDRESS) != []

    call_command("erase_person", "ERASE.me@example.com")
    run_jobs()  # the sync of the segment whose Brevo list held the address

    assert ADDRESS not in brevo.lists[segment.brevo_list_id]["members"]
    assert "stays@example.com" in brevo.lists[segment.brevo_list_id]["members"]
    assert tables_holding(ADDRESS) == []
    assert tables_holding("Erin") == []
    assert not User.objects.filter(pk=user.pk).exists()
    assert (campaign_stats(campaign), campaign_link_clicks(campaign=campaign)) == before
    (record,) = Erasure.objects.all()
    assert record.email_hash == erasure_hash(ADDRESS) != ADDRESS
    assert (record.erased_by, record.via) == (None, "command")


def test_late_events_about_an_erased_person_keep_no_address(person, run_jobs):
    _, campaign, _ = person
    call_command("erase_person", ADDRESS)
    run_jobs()
    row = campaign.recipients.get(email__endswith="@erased.invalid")

    for esp_event in ("hard_bounce", "unsubscribed"):
        event(row, esp_event, 60, email=ADDRESS)
    tracking_events_process_pending()

    assert tables_holding(ADDRESS) == []
    row.refresh_from_db()
    assert row.hard_bounced_at is not None
    assert campaign_stats(campaign)["bounced"] == 1


def test_the_same_address_signing_up_again_stays_unreachable(person):
    call_command("erase_person", ADDRESS)

    again = User.objects.create_user(email="Erase.Me@example.com", password="x" * 12, is_verified=True)

    assert not reachable_users(User.objects.filter(pk=again.pk)).exists()
    assert Suppression.objects.get(email=ADDRESS).reason == SuppressionReason.ERASED
    assert reachable_users(User.objects.filter(email="stays@example.com")).exists()


def test_staff_erase_from_the_admin_after_confirming(person, client, admin_user):
    user, _, _ = person
    client.force_login(admin_user)
    changelist = "/admin/accounts/user/"
    chosen = {"action": "erase_people", "_selected_action": [user.pk]}

    asked = client.post(changelist, chosen)
    done = client.post(changelist, {**chosen, "post": "yes"})

    assert asked.status_code == 200
    assert b"cannot be undone" in asked.content
    assert done.status_code == 302
    assert not User.objects.filter(pk=user.pk).exists()
    (record,) = Erasure.objects.all()
    assert (record.erased_by, record.via) == (admin_user, "admin")


def test_staff_cannot_erase_themselves(admin_user):
    with pytest.raises(InvalidInputError, match="cannot erase yourself"):
        person_erase(email=admin_user.email, by=admin_user, via="admin")

    assert User.objects.filter(pk=admin_user.pk).exists()
