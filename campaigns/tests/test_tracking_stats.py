"""Campaign stats from what Brevo reported: counts, rates, the per-link table, the monthly overview."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from campaigns.selectors import campaign_link_clicks, campaign_rates, campaign_stats, campaigns_overview
from campaigns.tests.test_tracking_webhook import WEBHOOK, _auth, _schedule_on_every_event, brevo_event

pytestmark = pytest.mark.django_db

__all__ = ["_schedule_on_every_event"]  # the autouse fixture applies here too

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def campaign(admin_user):
    return Campaign.objects.create(
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
            CampaignRecipient.objects.create(
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
                response = client.post(WEBHOOK, data=json.dumps(payload), content_type="application/json", **_auth())
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
        "delivered": 8,
        "opened": 4,
        "clicked": 2,
        "opens": 5,
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
        "click_rate": 0.25,
        "click_to_open_rate": 0.5,
        "bounce_rate": 0.2,
        "complaint_rate": 0.125,
        "unsubscribe_rate": 0.125,
    }


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
    other = Campaign.objects.create(subject="Other", body_html="<p>x</p>", created_by=admin_user)
    mine, theirs = ledger(campaign, make_user, 1)[0], ledger(other, make_user, 1)[0]
    deliver(
        brevo_event("click", mine, link="https://example.com/mine"),
        brevo_event("click", theirs, link="https://example.com/theirs"),
    )

    assert [row["link"] for row in campaign_link_clicks(campaign=campaign)] == ["https://example.com/mine"]


def test_overview_has_totals_and_a_zero_filled_monthly_series(campaign, make_user, deliver, admin_user):
    rows = ledger(campaign, make_user, 4)
    earlier = Campaign.objects.create(
        subject="Summer",
        body_html="<p>x</p>",
        status=CampaignStatus.SENT,
        created_by=admin_user,
        started_at=datetime(2026, 9, 3, tzinfo=UTC),
    )
    earlier_rows = ledger(earlier, make_user, 2)
    too_old = Campaign.objects.create(
        subject="Old", body_html="<p>x</p>", created_by=admin_user, started_at=datetime(2025, 1, 5, tzinfo=UTC)
    )
    ledger(too_old, make_user, 5)
    Campaign.objects.create(subject="Draft", body_html="<p>x</p>", created_by=admin_user)
    deliver(
        *[brevo_event("delivered", row) for row in rows + earlier_rows],
        brevo_event("unique_opened", rows[0]),
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
    assert overview["campaigns_by_status"]["SENT"] == 2
    assert overview["campaigns_by_status"]["DRAFT"] == 2


def test_overview_costs_a_fixed_number_of_queries(campaign, make_user, django_assert_num_queries):
    ledger(campaign, make_user, 3)

    with django_assert_num_queries(3):
        campaigns_overview()
