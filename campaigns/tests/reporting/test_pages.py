"""The campaign page's charts and progress partials as rendered by the admin."""

from __future__ import annotations

import json
import re

import django_rq
import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from campaigns.models import CampaignStatus, RecipientStatus
from campaigns.services.reports import campaign_report_refresh
from campaigns.tests.factories import CampaignFactory, CampaignRecipientFactory

pytestmark = pytest.mark.django_db


def chart_data(page: str, chart_id: str) -> dict:
    match = re.search(rf'<script id="{chart_id}-data" type="application/json">(.*?)</script>', page, re.S)
    assert match, f"no data for {chart_id}"
    return json.loads(match.group(1))


def test_a_sent_campaign_page_has_every_chart_with_its_series_and_numbers(client: Client, make_user):
    client.force_login(make_user(Role.ADMIN))
    now = timezone.now()
    campaign = CampaignFactory(
        status=CampaignStatus.SENT, started_at=now, sent_at=now, audience_frozen_at=now, recipients_total=2,
        recipient_count=2,
    )  # fmt: skip
    CampaignRecipientFactory(campaign=campaign, email="a@example.com", status=RecipientStatus.SENT,
                                     delivered_at=now, first_opened_at=now)  # fmt: skip
    CampaignRecipientFactory(campaign=campaign, email="b@example.org", status=RecipientStatus.SENT)
    campaign_report_refresh(campaign_id=campaign.pk)

    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()

    assert 'id="campaign-charts"' in page
    hourly = chart_data(page, f"campaign-{campaign.pk}-hourly")
    assert [series["key"] for series in hourly["series"]] == ["opened", "machine_opened", "clicked"]
    assert sum(hourly["series"][0]["data"]) == 1
    funnel = chart_data(page, f"campaign-{campaign.pk}-funnel")
    assert funnel["labels"][:2] == ["Sent", "Delivered"]
    assert funnel["series"][0]["data"][:3] == [2, 1, 1]
    domains = chart_data(page, f"campaign-{campaign.pk}-domains")
    assert sorted(domains["labels"]) == ["example.com", "example.org"]
    # The numbers are on the page as a table too, and the canvas has a summary to read out.
    assert '<th scope="col" class="num">Human opens</th>' in page
    assert 'aria-describedby="campaign-' in page
    # Progress, finished: not live, so the page does not poll.
    assert 'data-live="false"' in page


def test_a_first_view_without_a_report_queues_it_instead_of_waiting(
    client: Client, make_user, django_capture_on_commit_callbacks
):
    client.force_login(make_user(Role.ADMIN))
    now = timezone.now()
    campaign = CampaignFactory(status=CampaignStatus.SENT, started_at=now, sent_at=now, audience_frozen_at=now)

    with django_capture_on_commit_callbacks(execute=True):
        page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()

    assert "The results are being summed up" in page
    jobs = django_rq.get_queue("default").jobs
    assert [(job.func_name, job.args) for job in jobs] == [("campaigns.jobs.campaign_report_refresh", (campaign.pk,))]


def test_a_draft_has_no_charts_and_no_progress(client: Client, make_user):
    client.force_login(make_user(Role.ADMIN))
    campaign = CampaignFactory()

    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()

    assert 'id="campaign-charts"' not in page
    assert 'id="campaign-progress"' not in page


def test_a_sending_campaign_polls_its_progress(client: Client, make_user):
    client.force_login(make_user(Role.ADMIN))
    campaign = CampaignFactory(status=CampaignStatus.SENDING, started_at=timezone.now())

    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()

    assert 'data-live="true"' in page
    assert f'data-progress-url="/api/campaigns/{campaign.pk}/progress/"' in page
    assert "insights/progress.js" in page
    assert "Preparing the audience" in page
