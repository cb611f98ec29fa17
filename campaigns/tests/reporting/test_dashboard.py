"""The staff home page: what each role sees, that each number links where it is acted on, the
query budget, and Brevo's latest trouble recorded from real refused requests."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from brevo import brevo_client
from campaigns.models import BrevoIncident, CampaignStatus
from campaigns.services import campaign_send
from campaigns.services.reports import campaign_reports_refresh_due
from campaigns.tests.factories import CampaignFactory, TrackingEventFactory
from campaigns.tests.reporting.ledgers import row, sent_campaign
from segments.tests.factories import AudienceSnapshotFactory

pytestmark = pytest.mark.django_db


def text(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}".*?</section>', page, re.S)
    assert match, element_id
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(0)).split())


@pytest.fixture
def history() -> None:
    now = timezone.now()
    campaign = sent_campaign(name="Autumn programme", started_at=now - timedelta(days=2))
    row(campaign, "a@example.com", delivered_at=now, first_opened_at=now)
    row(campaign, "b@example.com", delivered_at=now)
    campaign_reports_refresh_due()
    CampaignFactory(name="Winter news", status=CampaignStatus.SCHEDULED, scheduled_at=now + timedelta(days=3))
    today = timezone.localdate()
    AudienceSnapshotFactory(day=today - timedelta(days=40), users=90, reachable=80, opted_out=5, suppressed=2)
    AudienceSnapshotFactory(day=today, users=100, reachable=85, opted_out=9, suppressed=3)
    TrackingEventFactory(dedup_key="waiting", esp_event="delivered", event_type="delivered", payload={})


def test_an_admin_sees_every_section_with_links_in_bounded_queries(
    client: Client, make_user, history, django_assert_max_num_queries
):
    client.force_login(make_user(Role.ADMIN))

    with django_assert_max_num_queries(25):
        page = client.get("/admin/").content.decode()

    assert "Autumn programme" in text(page, "dashboard-latest")
    # 1 of 2 delivered opened: 50 %.
    assert "50.0 %" in text(page, "dashboard-latest")
    assert "Winter news" in text(page, "dashboard-upcoming")
    audience = text(page, "dashboard-audience-section")
    assert "Users 100 (+10 since" in audience
    assert "Opted out 9 (+4 since" in audience
    machinery = text(page, "dashboard-machinery")
    assert "Webhook events waiting 1" in machinery
    assert "Workers alive 0" in machinery
    assert 'href="/admin/campaigns/trackingevent/?status__exact=PENDING"' in page
    assert 'href="/admin/django_rq/dashboard/' in page or "/admin/django-rq/" in page or "django_rq" in page
    assert '<script id="dashboard-campaigns-data" type="application/json">' in page
    assert '<script id="dashboard-audience-data" type="application/json">' in page
    # The grouped model list is still there, below.
    assert 'id="dashboard-models"' in page


def test_a_manager_sees_the_audience_but_neither_campaigns_nor_machinery(client: Client, make_user, history):
    client.force_login(make_user(Role.MANAGER))

    page = client.get("/admin/").content.decode()

    assert 'id="dashboard-audience-section"' in page
    assert 'id="dashboard-campaigns-section"' not in page
    assert 'id="dashboard-machinery"' not in page


def test_an_empty_site_says_what_to_do(client: Client, make_user):
    client.force_login(make_user(Role.ADMIN))

    page = client.get("/admin/").content.decode()

    assert "No campaign has been sent yet" in page
    assert "No daily snapshot yet" in page
    assert "None recorded." in text(page, "dashboard-machinery")


# Jobs are enqueued when the send's transaction commits.
@pytest.mark.django_db(transaction=True)
def test_brevo_trouble_from_sending_and_list_syncs_is_recorded(brevo, admin_user, audience, run_jobs):
    audience(1)
    brevo.fail_next(1, 429, path_prefix="smtp/email", reset_seconds=0.1)
    campaign_send(campaign=CampaignFactory(), by=admin_user)
    while run_jobs():
        pass
    limited = BrevoIncident.objects.get(kind=BrevoIncident.Kind.RATE_LIMITED)
    assert (limited.status, limited.where, limited.count) == (429, "POST /smtp/email", 1)

    brevo.fail_next(1, 400, path_prefix="contacts/lists")
    with pytest.raises(Exception, match="400"):
        brevo_client().list_create(name="Refused", folder_id=1)

    error = BrevoIncident.objects.get(kind=BrevoIncident.Kind.ERROR)
    assert (error.status, error.where) == (400, "POST /contacts/lists")
