from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Suppression, User
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from demo.history import demo_history_ensure
from demo.services import demo_seed
from demo.unreachable import demo_unreachable_ensure
from segments.criteria_providers import extra_criteria_clean
from segments.selectors import Criteria, criteria_counts

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
USERS = 1_500
CAMPAIGNS = 6


@pytest.fixture
def history():
    demo_seed(users=USERS, seed=3, now=NOW - timedelta(days=30))
    demo_unreachable_ensure(users=USERS, suppressions=60, opt_outs=90, seed=3, now=NOW)
    return demo_history_ensure(campaigns=CAMPAIGNS, seed=3, now=NOW)


def rate(rows, condition):
    return rows.filter(condition).count() / rows.count()


def test_sent_campaigns_one_every_nine_days_with_their_ledgers(history):
    campaigns = list(Campaign.objects.filter(name__startswith="Demo history").order_by("-sent_at"))
    assert [campaign.name for campaign in campaigns] == [f"Demo history {n}" for n in range(1, CAMPAIGNS + 1)]
    assert history.campaigns == CAMPAIGNS
    assert history.rows == CampaignRecipient.objects.count()
    for number, campaign in enumerate(campaigns):
        assert campaign.status == CampaignStatus.SENT
        days_ago = (NOW - campaign.started_at) / timedelta(days=1)
        assert 2 + 9 * number <= days_ago < 2 + 9 * number + 1
        rows = campaign.recipients.all()
        assert campaign.recipients_total == rows.count() == campaign.recipient_count
        assert rows.filter(status=RecipientStatus.SENT).count() == rows.count()
        # Most of the list, never more than those who could be emailed.
        assert 0.6 * User.objects.filter(is_verified=True).count() < rows.count()
        assert not rows.filter(user__is_verified=False).exists()


def test_rates_look_like_a_real_list(history):
    rows = CampaignRecipient.objects.all()
    assert 0.95 < rate(rows, Q(delivered_at__isnull=False)) < 0.99
    assert 0.15 < rate(rows, Q(first_opened_at__isnull=False)) < 0.30
    assert 0.28 < rate(rows, Q(first_machine_opened_at__isnull=False)) < 0.42
    assert 0.015 < rate(rows, Q(first_clicked_at__isnull=False)) < 0.06
    # A third of the people never open anything; over six campaigns some occasional readers neither.
    engaged = set(rows.filter(first_opened_at__isnull=False).values_list("user_id", flat=True))
    received = set(rows.values_list("user_id", flat=True))
    assert 0.3 < 1 - len(engaged) / len(received) < 0.65


def test_tracking_fields_agree_as_the_tracking_service_leaves_them(history):
    rows = CampaignRecipient.objects.all()
    # A human or machine open, a click: only on a delivered message, after it, never in the future.
    assert (
        not rows.filter(delivered_at__isnull=True)
        .exclude(first_opened_at=None, first_machine_opened_at=None, first_clicked_at=None)
        .exists()
    )
    assert not rows.filter(first_opened_at__lt=F("delivered_at")).exists()
    assert not rows.filter(first_machine_opened_at__lt=F("delivered_at")).exists()
    assert not rows.filter(delivered_at__lt=F("sent_at")).exists()
    assert not rows.filter(Q(last_engaged_at__gt=NOW) | Q(first_machine_opened_at__gt=NOW)).exists()
    # A click is an open: it has a first open, at or before it.
    assert not rows.filter(first_clicked_at__isnull=False, first_opened_at=None).exists()
    assert not rows.filter(first_clicked_at__lt=F("first_opened_at")).exists()
    # Counts go with first times; the latest engagement is the latest open or click.
    assert not rows.filter(Q(first_opened_at=None, open_count__gt=0) | Q(first_opened_at__isnull=False, open_count=0))
    assert not rows.filter(first_machine_opened_at=None, machine_open_count__gt=0).exists()
    assert not rows.filter(first_clicked_at=None, click_count__gt=0).exists()
    assert not rows.filter(Q(first_opened_at=None) ^ Q(last_engaged_at=None)).exists()
    assert not rows.filter(last_engaged_at__lt=F("first_opened_at")).exists()
    assert not rows.filter(last_engaged_at__lt=F("first_clicked_at")).exists()
    assert not rows.exclude(user=None).exclude(email=F("user__email")).exists()


def test_nobody_got_a_campaign_before_joining_or_after_opting_out_or_being_suppressed(history):
    rows = CampaignRecipient.objects.all()
    assert not rows.filter(sent_at__lt=F("user__date_joined")).exists()
    assert not rows.filter(sent_at__gte=F("user__email_opted_out_at")).exists()
    for email, suppressed_at in Suppression.objects.values_list("email", "created_at"):
        assert not rows.filter(email__iexact=email, sent_at__gte=suppressed_at).exists()


def test_engagement_windows_tell_people_apart(history, monkeypatch):
    def count(**values):
        cleaned, errors = extra_criteria_clean(values)
        assert not errors
        return criteria_counts(Criteria(extra=cleaned)).matching

    # Counted as of the history's `now`: the criteria read the clock.
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    engaged = [count(engaged_within_days=days) for days in (5, 20, 60)]
    lapsed = [count(not_engaged_within_days=days) for days in (5, 20, 60)]
    assert 0 < engaged[0] < engaged[1] < engaged[2]
    # Each window holds other campaigns, so other people ignored all of theirs.
    assert min(lapsed) > 0
    assert len(set(lapsed)) == 3


def test_a_second_run_adds_nothing_and_a_longer_history_only_the_older_campaigns(history):
    rows = CampaignRecipient.objects.count()
    assert demo_history_ensure(campaigns=CAMPAIGNS, seed=3, now=NOW).campaigns == 0
    assert CampaignRecipient.objects.count() == rows

    more = demo_history_ensure(campaigns=CAMPAIGNS + 1, seed=3, now=NOW)
    assert more.campaigns == 1
    oldest = Campaign.objects.get(name=f"Demo history {CAMPAIGNS + 1}")
    assert (NOW - oldest.started_at) >= timedelta(days=2 + 9 * CAMPAIGNS)
    assert CampaignRecipient.objects.count() == rows + oldest.recipients_total


def test_the_command_adds_the_history_and_refuses_a_negative_one():
    out = StringIO()
    call_command("seed_demo", "--users", "120", "--history", "2", stdout=out)
    assert "History: 2 new sent campaigns," in out.getvalue()
    assert Campaign.objects.filter(status=CampaignStatus.SENT).count() == 2

    with pytest.raises(CommandError, match="--history"):
        call_command("seed_demo", "--users", "5", "--history", "-1")
