"""Campaign reports: the sums from a real ledger, the domain breakdown, the stored report's
freshness, and the timeline endpoint (shape, errors, access, queries)."""

from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from campaigns.jobs import campaign_reports_refresh_due
from campaigns.models import Campaign, CampaignRecipient, CampaignReport, CampaignStatus, RecipientStatus
from campaigns.reporting.timeline import OTHER_DOMAINS, campaign_report_data, domain_breakdown
from campaigns.services.reports import campaign_report_current, campaign_report_refresh
from campaigns.tests.factories import CampaignFactory, TrackingEventFactory
from campaigns.tests.reporting.ledgers import START, row, sent_campaign
from core.testing import error_code, error_fields

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _london(settings) -> None:
    settings.TIME_ZONE = "Europe/London"
    cache.clear()


@pytest.fixture
def ledger() -> Campaign:
    campaign = sent_campaign()
    delivered = START + timedelta(minutes=10)
    # Gmail: three delivered, one opened by a person at 01:30 BST and clicked, one only by a proxy.
    row(campaign, "a@gmail.com", delivered_at=delivered, first_opened_at=START + timedelta(hours=2, minutes=30),
        first_clicked_at=START + timedelta(hours=2, minutes=40))  # fmt: skip
    row(campaign, "b@Gmail.com", delivered_at=delivered, first_machine_opened_at=delivered)
    # Opened by a proxy first, by a person later: a human open, not a machine one.
    row(campaign, "c@gmail.com", delivered_at=delivered, first_machine_opened_at=delivered,
        first_opened_at=START + timedelta(hours=3, minutes=30))  # fmt: skip
    # Example: one bounced, one refused by Brevo.
    row(campaign, "d@example.com", hard_bounced_at=delivered)
    row(campaign, "e@example.com", status=RecipientStatus.FAILED)
    TrackingEventFactory(
        dedup_key="k1", esp_event="click", event_type="clicked", campaign=campaign, link="https://example.com/a",
        payload={}, recipient=CampaignRecipient.objects.get(email="a@gmail.com"),
    )  # fmt: skip
    return campaign


def test_report_sums_the_ledger(ledger):
    data = campaign_report_data(campaign=ledger, now=START + timedelta(days=1))

    assert {key: data[key] for key in ("recipients", "sent", "failed", "delivered", "opened", "machine_opened")} == {
        "recipients": 5, "sent": 4, "failed": 1, "delivered": 3, "opened": 2, "machine_opened": 1,
    }  # fmt: skip
    assert (data["clicked"], data["bounced"], data["time_zone"]) == (1, 1, "Europe/London")
    assert data["domains"][0] == {
        "domain": "gmail.com", "recipients": 3, "sent": 3, "failed": 0, "delivered": 3, "opened": 2,
        "machine_opened": 1, "clicked": 1, "bounced": 0, "soft_bounced": 0, "complained": 0, "unsubscribed": 0,
    }  # fmt: skip
    assert data["links"] == [{"link": "https://example.com/a", "clicks": 1, "unique_clicks": 1}]


def test_report_series_are_cut_in_the_site_time_zone_across_the_clock_change(ledger):
    data = campaign_report_data(campaign=ledger, now=START + timedelta(days=1))

    hourly = data["hourly"]
    assert len(hourly["starts"]) == 72
    # Local hours: 23:00 BST, 00:00 BST, 01:00 BST, 01:00 GMT (the repeated hour), 02:00 GMT...
    assert hourly["starts"][:4] == [
        "2026-10-24T22:00:00+00:00", "2026-10-24T23:00:00+00:00", "2026-10-25T00:00:00+00:00",
        "2026-10-25T01:00:00+00:00",
    ]  # fmt: skip
    # One person opened at 01:30 BST, another at 01:30 GMT: the two 01:00 hours.
    assert hourly["opened"][:5] == [0, 0, 1, 1, 0]
    assert hourly["machine_opened"][:2] == [1, 0]
    assert hourly["clicked"][2] == 1
    daily = data["daily"]
    # 24 October (from 23:00 BST) holds the machine open; 25 October the rest.
    # Both midnights are in BST (the clocks go back at 02:00).
    assert daily["starts"][:2] == ["2026-10-23T23:00:00+00:00", "2026-10-24T23:00:00+00:00"]
    assert (daily["opened"][:2], daily["machine_opened"][:2], daily["clicked"][:2]) == ([0, 2], [1, 0], [0, 1])
    # Days run to today, and for an older campaign to 30 days past the start or its last activity.
    assert len(daily["starts"]) == 2
    later = campaign_report_data(campaign=ledger, now=START + timedelta(days=90))
    assert len(later["daily"]["starts"]) == 30


def test_domain_breakdown_keeps_the_top_ten_and_sums_the_rest():
    rows = [{"domain": f"d{n:02}.example", "recipients": 100 - n, "sent": 100 - n, "bounced": n} for n in range(13)]

    shown = domain_breakdown(rows)

    assert [entry["domain"] for entry in shown] == [f"d{n:02}.example" for n in range(10)] + [OTHER_DOMAINS]
    assert shown[-1] == {"domain": OTHER_DOMAINS, "recipients": 90 + 89 + 88, "sent": 267, "bounced": 10 + 11 + 12}
    assert domain_breakdown(rows[:3])[-1]["domain"] == "d02.example"
    assert domain_breakdown([]) == []


def test_periodic_refresh_takes_missing_then_stale_reports_and_leaves_fresh_ones(ledger):
    draft = CampaignFactory()

    assert campaign_reports_refresh_due() == [ledger.pk]
    assert not CampaignReport.objects.filter(campaign=draft).exists()
    assert campaign_reports_refresh_due() == []
    # An old campaign's report is kept a day.
    CampaignReport.objects.filter(pk=ledger.pk).update(computed_at=timezone.now() - timedelta(hours=2))
    assert campaign_reports_refresh_due() == []
    CampaignReport.objects.filter(pk=ledger.pk).update(computed_at=timezone.now() - timedelta(days=2))
    assert campaign_reports_refresh_due() == [ledger.pk]


# --- The endpoint ---------------------------------------------------------------------------


def url(campaign_id: int, query: str = "") -> str:
    return f"/api/campaigns/{campaign_id}/timeline/{query}"


def test_endpoint_shape_hourly_and_daily(admin_client_api: APIClient, ledger):
    hourly = admin_client_api.get(url(ledger.pk, "?bucket=hour"))
    daily = admin_client_api.get(url(ledger.pk))  # started long ago: daily by default

    assert hourly.status_code == daily.status_code == 200
    body = hourly.json()
    assert set(body) == {
        "campaign_id",
        "computed_at",
        "time_zone",
        "bucket",
        "buckets",
        "funnel",
        "rates",
        "domains",
        "links",
    }
    assert body["buckets"][3] == {
        "start": "2026-10-25T01:00:00Z", "name": "Sun 25 Oct 01:00 GMT", "opened": 1, "machine_opened": 0, "clicked": 0,
    }  # fmt: skip
    assert body["buckets"][2]["name"] == "Sun 25 Oct 01:00 BST"
    assert body["funnel"]["opened"] == 2
    assert body["rates"]["open_rate"] == round(2 / 3, 4)
    assert body["domains"][1]["domain"] == "example.com"
    assert (body["domains"][1]["bounce_rate"], body["domains"][1]["delivery_rate"]) == (1.0, 0.0)
    assert daily.json()["bucket"] == "day"
    assert daily.json()["buckets"][1]["name"] == "2026-10-25"


def test_endpoint_errors(admin_client_api: APIClient, ledger):
    bad = admin_client_api.get(url(ledger.pk, "?bucket=week"))
    assert bad.status_code == 400
    assert "bucket" in error_fields(bad)

    draft = admin_client_api.get(url(CampaignFactory().pk))
    assert draft.status_code == 409
    assert draft.json()["status"] == "DRAFT"
    assert error_code(draft) == "state_conflict"

    assert admin_client_api.get(url(424242)).status_code == 404


def test_endpoint_access(api_client: APIClient, make_user, ledger):
    assert api_client.get(url(ledger.pk)).status_code == 401
    api_client.force_authenticate(make_user(Role.MANAGER))
    assert api_client.get(url(ledger.pk)).status_code == 403


def test_endpoint_reads_the_stored_report_in_two_queries(
    admin_client_api: APIClient, ledger, django_assert_num_queries
):
    campaign_report_refresh(campaign_id=ledger.pk)
    admin_client_api.get(url(ledger.pk))  # the role check's permissions are cached on the user

    with django_assert_num_queries(2):
        assert admin_client_api.get(url(ledger.pk)).status_code == 200


def test_a_stale_report_is_served_and_a_refresh_queued_once(
    admin_client_api: APIClient, ledger, django_capture_on_commit_callbacks
):
    campaign_report_refresh(campaign_id=ledger.pk)
    Campaign.objects.filter(pk=ledger.pk).update(status=CampaignStatus.SENDING)
    CampaignReport.objects.filter(pk=ledger.pk).update(computed_at=timezone.now() - timedelta(minutes=5))

    with django_capture_on_commit_callbacks(execute=True):
        first = admin_client_api.get(url(ledger.pk))
        admin_client_api.get(url(ledger.pk))

    assert first.status_code == 200
    jobs = django_rq.get_queue("default").jobs
    assert [(job.func_name, job.args) for job in jobs] == [("campaigns.jobs.campaign_report_refresh", (ledger.pk,))]


def test_schema_documents_the_endpoint(admin_client_api: APIClient):
    schema = admin_client_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    operation = schema["paths"]["/api/campaigns/{id}/timeline/"]["get"]
    assert {"200", "400", "401", "403", "404", "409", "429"} <= set(operation["responses"])
    conflict = operation["responses"]["409"]["content"]["application/json"]["schema"]["$ref"]
    assert conflict.endswith("/ConflictErrorResponse")
    (bucket,) = [parameter for parameter in operation["parameters"] if parameter["name"] == "bucket"]
    assert set(bucket["schema"]["enum"]) == {"hour", "day"}


def test_a_viewer_in_another_time_zone_reads_the_same_site_zone_report(ledger, django_capture_on_commit_callbacks):
    stored = campaign_report_refresh(campaign_id=ledger.pk)

    # Staff may have a zone of their own (activated per request); reports stay in the site's.
    with timezone.override("Asia/Tokyo"), django_capture_on_commit_callbacks(execute=True):
        seen = campaign_report_current(campaign=ledger, compute_missing=False)

    assert seen is not None
    assert (seen.time_zone, seen.computed_at) == ("Europe/London", stored.computed_at)
    assert django_rq.get_queue("default").jobs == []
