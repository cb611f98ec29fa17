"""Engagement criteria wherever criteria work beyond the API: campaign audiences and snapshots,
the Brevo list mirror as events arrive, and the admin (form, campaign pickers, live counts)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from accounts.tests.factories import UserFactory
from campaigns.models import CampaignRecipient, CampaignStatus, RecipientStatus
from campaigns.selectors import campaign_audience
from campaigns.services import campaign_send
from campaigns.services.tracking import tracking_events_process_pending
from campaigns.tests.brevo_webhooks import WEBHOOK, brevo_event, webhook_auth
from campaigns.tests.factories import CampaignFactory, CampaignRecipientFactory
from segments.models import Membership, Segment
from segments.selectors import Criteria
from segments.services import segment_create
from segments.services.exports import segment_sync_run, segment_sync_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def october():
    """A sent campaign: Ann and Cy opened it (Cy by clicking), Bob's only open was a proxy's."""
    campaign = CampaignFactory(subject="October news", status=CampaignStatus.SENT, started_at=timezone.now())
    people = {name: UserFactory(email=f"{name}@example.com") for name in ("ann", "bob", "cy", "di")}
    rows = {
        name: CampaignRecipientFactory(
            campaign=campaign,
            user=user,
            email=user.email,
            status=RecipientStatus.SENT,
            sent_at=timezone.now(),
            message_id=f"<{name}@smtp-relay.mailin.fr>",
        )
        for name, user in people.items()
    }
    return campaign, people, rows


def deliver(client: Client, *events: dict[str, Any]) -> None:
    """Brevo's webhook, stored as it arrives, then processed."""
    for payload in events:
        answer = client.post(WEBHOOK, data=json.dumps(payload), content_type="application/json", **webhook_auth())
        assert answer.status_code == 200
    tracking_events_process_pending()


def test_a_campaign_aimed_at_an_engagement_segment_freezes_exactly_that_audience(
    client, october, admin_user, run_jobs, django_capture_on_commit_callbacks
):
    campaign, people, rows = october
    deliver(client, brevo_event("unique_opened", rows["ann"]), brevo_event("unique_proxy_open", rows["bob"]))
    segment = segment_create(
        by=admin_user, name="Did not open", criteria=Criteria(extra={"not_opened_campaigns": [campaign.pk]})
    )
    people["di"].email_opted_out_at = timezone.now()
    people["di"].save(update_fields=["email_opted_out_at"])
    follow_up = CampaignFactory(segment=segment, target_segment=Membership.ACTIVE)

    assert set(campaign_audience(campaign=follow_up)) == {people["bob"], people["cy"]}
    with django_capture_on_commit_callbacks(execute=True):
        campaign_send(campaign=follow_up, by=admin_user)
    run_jobs()  # the start job freezes the audience into the ledger

    assert sorted(follow_up.recipients.values_list("email", flat=True)) == ["bob@example.com", "cy@example.com"]


def test_the_brevo_list_follows_the_audience_as_events_arrive(client, october, admin_user, fast_brevo):
    campaign, _, rows = october
    segment = segment_create(
        by=admin_user, name="Did not open", criteria=Criteria(extra={"not_opened_campaigns": [campaign.pk]})
    )

    def sync() -> set[str]:
        segment_sync_run(export=segment_sync_start(segment=segment, by=None, enqueue=False))
        segment.refresh_from_db()
        return set(fast_brevo.lists[segment.brevo_list_id]["members"])

    assert sync() == {"ann@example.com", "bob@example.com", "cy@example.com", "di@example.com"}
    deliver(client, brevo_event("unique_opened", rows["ann"]), brevo_event("unique_proxy_open", rows["bob"]))
    assert sync() == {"bob@example.com", "cy@example.com", "di@example.com"}
    deliver(client, brevo_event("click", rows["cy"], link="https://example.com/a"))
    assert sync() == {"bob@example.com", "di@example.com"}


# --- the admin ---------------------------------------------------------------------------------


SEARCH = "/admin/campaigns/campaign/sent-search/"


def test_the_campaign_picker_searches_sent_campaigns_by_subject(staff_client: Client, october):
    campaign, _, _ = october
    CampaignFactory(subject="October draft", status=CampaignStatus.DRAFT)
    CampaignFactory(subject="October later", status=CampaignStatus.SCHEDULED)
    cancelled = CampaignFactory(subject="Cancelled october", status=CampaignStatus.CANCELLED, started_at=timezone.now())
    CampaignFactory(subject="November news", status=CampaignStatus.SENT, started_at=timezone.now())

    answer = staff_client.get(SEARCH, {"term": "octob"})

    assert answer.status_code == 200
    found = answer.json()
    assert {entry["id"] for entry in found["results"]} == {str(campaign.pk), str(cancelled.pk)}
    assert found["pagination"] == {"more": False}
    assert any(entry["text"].startswith("October news (sent ") for entry in found["results"])


def test_the_campaign_picker_pages_its_search(staff_client: Client):
    for number in range(25):
        CampaignFactory(subject=f"Weekly {number}", status=CampaignStatus.SENT, started_at=timezone.now())

    first = staff_client.get(SEARCH, {"term": "weekly"}).json()
    second = staff_client.get(SEARCH, {"term": "weekly", "page": "2"}).json()

    assert (len(first["results"]), first["pagination"]["more"]) == (20, True)
    assert (len(second["results"]), second["pagination"]["more"]) == (5, False)


def test_the_campaign_picker_is_for_staff_who_edit_segments(client: Client, make_user):
    client.force_login(make_user(Role.CLIENT))
    assert client.get(SEARCH).status_code == 302  # to the admin's login
    without_rights = make_user(Role.MANAGER)
    without_rights.groups.clear()
    client.force_login(without_rights)
    assert client.get(SEARCH).status_code == 403


def test_the_segment_form_saves_engagement_criteria_and_shows_the_chosen_campaigns(staff_client: Client, october):
    campaign, _, rows = october
    CampaignRecipient.objects.filter(pk=rows["ann"].pk).update(
        first_opened_at=timezone.now(), last_engaged_at=timezone.now()
    )

    answer = staff_client.post(
        "/admin/segments/segment/add/",
        {
            "name": "October openers",
            "description": "",
            "membership": Membership.ALL,
            "gender": "",
            "states": "",
            "traffic_sources": "",
            "opened_campaigns": [str(campaign.pk)],
            "engaged_within_days": "30",
        },
    )

    assert answer.status_code == 302, answer.context["adminform"].form.errors if answer.context else answer
    segment = Segment.objects.get()
    assert segment.extra_criteria == {"opened_campaigns": [campaign.pk], "engaged_within_days": 30}
    page = staff_client.get(reverse("admin:segments_segment_change", args=[segment.pk])).content.decode()
    assert "Engagement (from campaign results" in page
    assert f'<option value="{campaign.pk}" selected>October news (sent ' in page
    assert 'data-ajax--url="/admin/campaigns/campaign/sent-search/"' in page
    # The live audience: Ann alone opened it.
    assert "<strong>1</strong> matching users" in page


def test_the_segment_form_shows_engagement_errors_on_their_fields(staff_client: Client, october):
    campaign, _, _ = october
    draft = CampaignFactory(status=CampaignStatus.DRAFT)

    answer = staff_client.post(
        "/admin/segments/segment/add/",
        {
            "name": "Contradiction",
            "membership": Membership.ALL,
            "opened_campaigns": [str(campaign.pk)],
            "not_opened_campaigns": [str(campaign.pk)],
            "received_campaigns": [str(draft.pk)],
            "not_engaged_within_days": "0",
        },
    )

    assert answer.status_code == 200
    errors = answer.context["adminform"].form.errors
    assert "never match" in errors["not_opened_campaigns"][0]
    assert "never sent" in errors["received_campaigns"][0]
    assert "from 1 to 3650" in errors["not_engaged_within_days"][0]
    assert not Segment.objects.exists()


def test_the_live_count_follows_engagement_criteria_as_they_are_edited(staff_client: Client, october):
    campaign, _, rows = october
    CampaignRecipient.objects.filter(pk=rows["ann"].pk).update(first_opened_at=timezone.now())
    url = reverse("admin:segments_segment_count")

    opened = staff_client.post(url, {"membership": "ALL", "opened_campaigns": [str(campaign.pk)]}).json()
    not_opened = staff_client.post(url, {"membership": "ALL", "not_opened_campaigns": [str(campaign.pk)]}).json()
    contradiction = staff_client.post(
        url,
        {"membership": "ALL", "opened_campaigns": [str(campaign.pk)], "not_opened_campaigns": [str(campaign.pk)]},
    ).json()

    assert (opened["matching"], not_opened["matching"]) == (1, 3)
    assert "never match" in contradiction["error"]
