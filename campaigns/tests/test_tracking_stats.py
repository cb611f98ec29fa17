"""Campaign stats from what Brevo reported: counts, rates, the per-link table, the monthly overview,
through the selectors, the API and the admin (with the event log and the opt-out history)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import OptOutMethod
from accounts.services import user_opt_out
from campaigns.models import (
    CampaignStatus,
    RecipientStatus,
    TrackingEvent,
    TrackingEventStatus,
)
from campaigns.selectors import campaign_link_clicks, campaign_rates, campaign_stats, campaigns_overview
from campaigns.tests.brevo_webhooks import WEBHOOK, brevo_event, webhook_auth
from campaigns.tests.factories import CampaignFactory, CampaignRecipientFactory
from core.testing import error_fields

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("every_event_schedules")]


T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def campaign(admin_user):
    return CampaignFactory(
        subject="Spring news",
        body_html="<p>Hi</p>",
        status=CampaignStatus.SENT,
        created_by=admin_user,
        started_at=T0,
        sent_at=T0,
    )


def ledger(campaign, make_user, count, *, status=RecipientStatus.SENT, start=0):
    rows = []
    for number in range(start, start + count):
        user = make_user(email=f"r{campaign.pk}-{number}@example.com")
        rows.append(
            CampaignRecipientFactory(
                campaign=campaign,
                user=user,
                email=user.email,
                status=status,
                message_id=f"<{campaign.pk}.{number}@smtp-relay.mailin.fr>" if status == RecipientStatus.SENT else "",
            )
        )
    return rows


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks, run_jobs):
    """Post Brevo events through the real webhook and process them."""

    def send(*events):
        with django_capture_on_commit_callbacks(execute=True):
            for payload in events:
                response = client.post(
                    WEBHOOK, data=json.dumps(payload), content_type="application/json", **webhook_auth()
                )
                assert response.status_code == 200
        run_jobs()

    return send


def test_stats_count_what_brevo_reported(campaign, make_user, deliver):
    rows = ledger(campaign, make_user, 10)
    ledger(campaign, make_user, 2, status=RecipientStatus.FAILED, start=10)
    events = [brevo_event("delivered", row) for row in rows[:8]]
    events += [brevo_event("unique_opened", row) for row in rows[:4]]
    events += [brevo_event("opened", rows[0], at=T0 + timedelta(hours=1))]
    events += [brevo_event("click", rows[0], link="https://example.com/a")]
    events += [brevo_event("click", rows[0], link="https://example.com/a", at=T0 + timedelta(seconds=5))]
    events += [brevo_event("click", rows[1], link="https://example.com/b")]
    events += [brevo_event("hard_bounce", rows[8]), brevo_event("blocked", rows[9])]
    events += [brevo_event("soft_bounce", rows[7])]
    events += [brevo_event("spam", rows[2]), brevo_event("unsubscribe", rows[3])]
    deliver(*events)

    stats = campaign_stats(campaign)

    assert stats == {
        "recipients": 12,
        "pending": 0,
        "sending": 0,
        "sent": 10,
        "failed": 2,
        "cancelled": 0,
        "unknown": 0,
        "held": 0,
        "delivered": 8,
        "opened": 4,
        "machine_opened": 0,
        "clicked": 2,
        "opens": 5,
        "machine_opens": 0,
        "clicks": 3,
        "bounced": 2,
        "hard_bounced": 1,
        "soft_bounced": 1,
        "blocked": 1,
        "complained": 1,
        "unsubscribed": 1,
    }
    assert campaign_rates(stats) == {
        "delivery_rate": 0.8,
        "open_rate": 0.5,
        "machine_open_rate": 0.0,
        "click_rate": 0.25,
        "click_to_open_rate": 0.5,
        "bounce_rate": 0.2,
        "complaint_rate": 0.125,
        "unsubscribe_rate": 0.125,
    }


def test_machine_opens_are_reported_apart_from_human_opens(campaign, make_user, deliver):
    rows = ledger(campaign, make_user, 10)
    events = [brevo_event("delivered", row) for row in rows]
    # Two people opened; three recipients were only opened by a proxy; one was opened by both.
    events += [brevo_event("unique_opened", row) for row in rows[:3]]
    events += [brevo_event("unique_proxy_open", row) for row in rows[2:6]]
    events += [brevo_event("proxy_open", rows[3], at=T0 + timedelta(hours=1))]
    deliver(*events)

    stats = campaign_stats(campaign)
    rates = campaign_rates(stats)

    assert (stats["opened"], stats["opens"]) == (3, 3)
    assert (stats["machine_opened"], stats["machine_opens"]) == (3, 5)
    assert (rates["open_rate"], rates["machine_open_rate"]) == (0.3, 0.3)


def test_rates_are_none_with_nothing_to_divide_by(campaign):
    rates = campaign_rates(campaign_stats(campaign))

    assert set(rates.values()) == {None}


def test_link_table_counts_clicks_and_distinct_clickers(campaign, make_user, deliver):
    rows = ledger(campaign, make_user, 3)
    deliver(
        brevo_event("click", rows[0], link="https://example.com/a"),
        brevo_event("click", rows[0], link="https://example.com/a", at=T0 + timedelta(seconds=1)),
        brevo_event("click", rows[1], link="https://example.com/a"),
        brevo_event("click", rows[2], link="https://example.com/b"),
        brevo_event("opened", rows[2]),
    )

    assert campaign_link_clicks(campaign=campaign) == [
        {"link": "https://example.com/a", "clicks": 3, "unique_clicks": 2},
        {"link": "https://example.com/b", "clicks": 1, "unique_clicks": 1},
    ]


def test_link_table_belongs_to_its_campaign(campaign, make_user, deliver, admin_user):
    other = CampaignFactory(subject="Other", body_html="<p>x</p>", created_by=admin_user)
    mine, theirs = ledger(campaign, make_user, 1)[0], ledger(other, make_user, 1)[0]
    deliver(
        brevo_event("click", mine, link="https://example.com/mine"),
        brevo_event("click", theirs, link="https://example.com/theirs"),
    )

    assert [row["link"] for row in campaign_link_clicks(campaign=campaign)] == ["https://example.com/mine"]


def test_overview_has_totals_and_a_zero_filled_monthly_series(campaign, make_user, deliver, admin_user):
    rows = ledger(campaign, make_user, 4)
    earlier = CampaignFactory(
        subject="Summer",
        body_html="<p>x</p>",
        status=CampaignStatus.SENT,
        created_by=admin_user,
        started_at=datetime(2026, 9, 3, tzinfo=UTC),
    )
    earlier_rows = ledger(earlier, make_user, 2)
    too_old = CampaignFactory(
        subject="Old", body_html="<p>x</p>", created_by=admin_user, started_at=datetime(2025, 1, 5, tzinfo=UTC)
    )
    ledger(too_old, make_user, 5)
    CampaignFactory(subject="Draft", body_html="<p>x</p>", created_by=admin_user)
    deliver(
        *[brevo_event("delivered", row) for row in rows + earlier_rows],
        brevo_event("unique_opened", rows[0]),
        brevo_event("unique_proxy_open", rows[1]),
        brevo_event("click", earlier_rows[0], link="https://example.com/a"),
    )

    overview = campaigns_overview(months=3, now=datetime(2026, 11, 25, tzinfo=UTC))

    assert overview["since"].isoformat() == "2026-09-01"
    assert [entry["month"].isoformat() for entry in overview["monthly"]] == ["2026-09-01", "2026-10-01", "2026-11-01"]
    september, october, november = overview["monthly"]
    assert (september["campaigns"], september["sent"], september["delivered"], september["clicked"]) == (1, 2, 2, 1)
    assert (october["campaigns"], october["recipients"], october["open_rate"]) == (0, 0, None)
    assert (november["campaigns"], november["sent"], november["opened"], november["open_rate"]) == (1, 4, 1, 0.25)
    totals = overview["totals"]
    assert (totals["campaigns"], totals["recipients"], totals["sent"], totals["delivered"]) == (2, 6, 6, 6)
    # The click in September counts as an open too.
    assert (totals["opened"], totals["clicked"], totals["click_rate"]) == (2, 1, round(1 / 6, 4))
    assert (totals["machine_opened"], totals["machine_open_rate"]) == (1, round(1 / 6, 4))
    assert overview["campaigns_by_status"]["SENT"] == 2
    assert overview["campaigns_by_status"]["DRAFT"] == 2


def test_overview_costs_a_fixed_number_of_queries(campaign, make_user, django_assert_num_queries):
    ledger(campaign, make_user, 3)

    with django_assert_num_queries(3):
        campaigns_overview()


# --- the API ------------------------------------------------------------------------------------


def test_campaign_detail_shows_tracking_counts_rates_and_links(admin_client_api, campaign, make_user, deliver):
    rows = ledger(campaign, make_user, 4)
    deliver(
        *[brevo_event("delivered", row) for row in rows],
        brevo_event("unique_opened", rows[0]),
        brevo_event("click", rows[1], link="https://example.com/a"),
    )

    response = admin_client_api.get(f"/api/campaigns/{campaign.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert (body["stats"]["sent"], body["stats"]["delivered"], body["stats"]["opened"], body["stats"]["clicked"]) == (
        4,
        4,
        2,
        1,
    )
    assert body["rates"]["open_rate"] == 0.5
    assert (body["stats"]["machine_opened"], body["rates"]["machine_open_rate"]) == (0, 0.0)
    assert body["rates"]["click_rate"] == 0.25
    assert body["links"] == [{"link": "https://example.com/a", "clicks": 1, "unique_clicks": 1}]


def test_stats_endpoint_counts_this_months_campaigns(admin_client_api, admin_user, make_user, deliver):
    now = CampaignFactory(
        subject="Now",
        body_html="<p>x</p>",
        status=CampaignStatus.SENT,
        created_by=admin_user,
        started_at=timezone.now(),
    )
    rows = ledger(now, make_user, 3)
    deliver(*[brevo_event("delivered", row) for row in rows], brevo_event("unsubscribe", rows[0]))

    body = admin_client_api.get("/api/campaigns/stats/").json()

    assert body["months"] == 12
    current = body["monthly"][-1]
    assert (current["campaigns"], current["sent"], current["delivered"], current["unsubscribed"]) == (1, 3, 3, 1)
    assert current["unsubscribe_rate"] == round(1 / 3, 4)
    assert body["totals"]["delivered"] == 3


@pytest.mark.parametrize("months", ["0", "37", "many"])
def test_stats_endpoint_refuses_bad_months_naming_the_field(admin_client_api, months):
    response = admin_client_api.get("/api/campaigns/stats/", {"months": months})

    assert response.status_code == 400
    assert "months" in error_fields(response)


def test_stats_endpoint_needs_the_campaign_role(api_client, manager_user):
    assert api_client.get("/api/campaigns/stats/").status_code == 401
    api_client.force_authenticate(manager_user)
    assert api_client.get("/api/campaigns/stats/").status_code == 403


def test_stats_route_is_not_read_as_a_campaign_id(admin_client_api):
    assert admin_client_api.get("/api/campaigns/stats/").status_code == 200
    assert admin_client_api.get("/api/campaigns/999999/").status_code == 404


def test_openapi_schema_describes_the_stats_endpoint(admin_client_api):
    schema = admin_client_api.get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/campaigns/stats/"]["get"]
    assert {"200", "400", "401", "403", "429"} <= set(operation["responses"])
    (months,) = [parameter for parameter in operation["parameters"] if parameter["name"] == "months"]
    assert (months["schema"]["minimum"], months["schema"]["maximum"]) == (1, 36)
    detail = schema["components"]["schemas"]["CampaignDetail"]["properties"]
    assert {"rates", "links"} <= set(detail)


# --- the admin ----------------------------------------------------------------------------------


def test_campaign_page_shows_results_rates_and_links(admin_client, campaign, make_user, deliver):
    campaign.audience_frozen_at = timezone.now()
    campaign.save(update_fields=["audience_frozen_at"])
    rows = ledger(campaign, make_user, 4)
    deliver(
        *[brevo_event("delivered", row) for row in rows],
        brevo_event("unique_opened", rows[0]),
        brevo_event("click", rows[0], link="https://example.com/offer"),
        brevo_event("hard_bounce", rows[3]),
    )

    response = admin_client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert '<td id="result-delivered">4 <span class="quiet">(100 %)</span></td>' in page
    assert '<td id="result-opened">1 <span class="quiet">(25 %)</span></td>' in page
    assert '<td id="result-bounced">1</td>' in page
    assert "<td>https://example.com/offer</td><td>1</td><td>1</td>" in page


def test_campaign_page_shows_machine_opens_apart(admin_client, campaign, make_user, deliver):
    campaign.audience_frozen_at = timezone.now()
    campaign.save(update_fields=["audience_frozen_at"])
    rows = ledger(campaign, make_user, 4)
    deliver(
        *[brevo_event("delivered", row) for row in rows],
        brevo_event("unique_opened", rows[0]),
        brevo_event("unique_proxy_open", rows[0]),
        brevo_event("unique_proxy_open", rows[1]),
        brevo_event("unique_proxy_open", rows[2]),
    )

    page = admin_client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()

    assert '<td id="result-opened">1 <span class="quiet">(25 %)</span></td>' in page
    assert '<td id="result-machine-opened">2 <span class="quiet">(50 %)</span></td>' in page
    assert "Opened 25 %, plus 50 % machine opens not counted." in page


def test_event_log_reports_unknown_message_ids_and_filters_them(admin_client, campaign, make_user, deliver):
    rows = ledger(campaign, make_user, 1)
    deliver(brevo_event("delivered", rows[0]), brevo_event("delivered", None))

    response = admin_client.get(reverse("admin:campaigns_trackingevent_changelist"), {"status__exact": "UNMATCHED"})

    page = response.content.decode()
    assert "1 event(s) name a message id no recipient has" in page
    assert "nobody@example.com" in page
    assert rows[0].email not in page


def test_process_again_queues_unmatched_events_with_fresh_attempts(
    admin_client, campaign, make_user, deliver, run_jobs, django_capture_on_commit_callbacks
):
    rows = ledger(campaign, make_user, 1)
    real_id = rows[0].message_id
    rows[0].message_id = ""
    rows[0].save(update_fields=["message_id"])
    deliver(brevo_event("delivered", rows[0], **{"message-id": real_id}))
    event = TrackingEvent.objects.get()
    assert event.status == TrackingEventStatus.UNMATCHED
    rows[0].message_id = real_id
    rows[0].save(update_fields=["message_id"])

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:campaigns_trackingevent_changelist"),
            {"action": "process_again", "_selected_action": [event.pk]},
            follow=True,
        )
    run_jobs()

    assert "1 event(s) queued for processing again." in response.content.decode()
    event.refresh_from_db()
    assert (event.status, event.attempts, event.recipient_id) == (TrackingEventStatus.PROCESSED, 1, rows[0].pk)


def test_event_log_is_read_only(admin_client, campaign, make_user, deliver):
    deliver(brevo_event("delivered", ledger(campaign, make_user, 1)[0]))
    event = TrackingEvent.objects.get()

    assert admin_client.get(reverse("admin:campaigns_trackingevent_add")).status_code == 403
    admin_client.post(reverse("admin:campaigns_trackingevent_change", args=[event.pk]), {"status": "FAILED"})
    event.refresh_from_db()
    assert event.status == TrackingEventStatus.PROCESSED


def test_opt_out_history_lists_method_and_campaign(admin_client, campaign, make_user):
    user = make_user(email="leaver@example.com")
    user_opt_out(user=user, method=OptOutMethod.ONE_CLICK, campaign_id=campaign.pk)

    response = admin_client.get(
        reverse("admin:campaigns_subscriptionchange_changelist"), {"method__exact": "ONE_CLICK"}
    )

    page = response.content.decode()
    assert "leaver@example.com" in page
    assert "One-click (mail client)" in page
    assert campaign.subject in page
