"""What staff see of a send in a real browser (Debian's Chromium through Playwright, live
server): the progress bar moving while a worker sends batch after batch and stopping when the
campaign is done, the charts of a sent campaign drawn with their series, the dashboard, the
segment size chart, and the same pages in the admin's dark theme.

Screenshots go to test-artifacts/browser/ (the telling ones are copied to docs/screenshots/).
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts.models import Role
from accounts.tests.factories import UserFactory
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from campaigns.services.reports import campaign_reports_refresh_due
from campaigns.tests.browser.pages import (
    BROWSER_TEST,
    PASSWORD,
    shot,
    sign_in,
    text,
)
from campaigns.tests.factories import CampaignFactory
from segments.tests.factories import AudienceSnapshotFactory, SegmentFactory, SegmentSnapshotFactory

pytestmark = BROWSER_TEST


def accepted(page) -> int:
    return int("".join(ch for ch in page.locator('[data-progress="accepted"]').inner_text() if ch.isdigit()) or 0)


def test_the_bar_moves_while_sending_and_stops_when_done(browser_page, live_server, settings, run_some):
    page = browser_page
    settings.CAMPAIGN_BATCH_SIZE = 5
    settings.CAMPAIGN_SEND_CONCURRENCY = 1
    UserFactory(role=Role.ADMIN, email="staff@example.com", password=PASSWORD, state="")
    UserFactory.create_batch(20)
    campaign = CampaignFactory(name="Progress walk")
    sign_in(page, live_server.url)

    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
    page.click("#campaign-actions input[value='Send now']")
    bar = page.locator("#campaign-progress")
    bar.wait_for()
    assert bar.get_attribute("data-live") == "true"

    # The start job freezes 21 recipients; then one batch of 5 at a time, each shown by the
    # page's next poll before the next batch goes.
    seen = []
    while run_some(1):
        expected = Campaign.objects.get(pk=campaign.pk).recipient_count
        shown = "document.querySelector('[data-progress=accepted]').innerText.replace(/\\D/g, '')"
        page.wait_for_function(f"expected => Number({shown}) === expected", arg=expected)
        seen.append(accepted(page))
        if 0 < seen[-1] < 21 and len([value for value in seen if 0 < value < 21]) == 1:
            shot(page, "10-progress-moving", full_page=False)
    page.wait_for_function("document.getElementById('campaign-progress').dataset.live === 'false'", timeout=10_000)

    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENT
    # The page saw intermediate numbers without a reload, in order, up to all 21.
    moving = [value for value in seen if 0 < value < 21]
    assert moving, seen
    assert seen == sorted(seen)
    assert accepted(page) == 21
    assert "Done: sent." in text(bar)
    assert page.locator('[data-progress="done"]').is_visible()
    assert page.locator("#campaign-progress-bar").evaluate("bar => bar.value") == 100
    # Polling stopped: no request to the progress endpoint once done.
    requests_after: list[str] = []
    page.on("request", lambda request: requests_after.append(request.url) if "progress" in request.url else None)
    page.wait_for_timeout(4500)
    assert requests_after == []
    shot(page, "11-progress-done")


def sent_history() -> Campaign:
    now = timezone.now()
    started = now - timedelta(hours=30)
    campaign = CampaignFactory(
        name="Autumn programme", status=CampaignStatus.SENT, started_at=started, sent_at=started,
        audience_frozen_at=started, recipients_total=60, recipient_count=58,
    )  # fmt: skip
    domains = ["gmail.com", "outlook.com", "yahoo.com", "example.org"]
    rows = []
    for number in range(60):
        at = started + timedelta(minutes=7 * number)
        rows.append(
            CampaignRecipient(
                campaign=campaign,
                email=f"reader{number}@{domains[number % 4]}",
                status=RecipientStatus.FAILED if number >= 58 else RecipientStatus.SENT,
                delivered_at=at if number % 10 else None,
                hard_bounced_at=at if number % 10 == 0 else None,
                first_opened_at=at + timedelta(minutes=30) if number % 3 == 0 else None,
                first_machine_opened_at=at if number % 3 == 1 else None,
                first_clicked_at=at + timedelta(minutes=40) if number % 6 == 0 else None,
            )
        )
    CampaignRecipient.objects.bulk_create(rows)
    return campaign


def test_a_sent_campaign_has_its_charts_drawn_and_the_dashboard_loads(browser_page, live_server):
    page = browser_page
    UserFactory(role=Role.ADMIN, email="staff@example.com", password=PASSWORD, state="")
    campaign = sent_history()
    CampaignFactory(
        name="Winter news", status=CampaignStatus.SCHEDULED, scheduled_at=timezone.now() + timedelta(days=2)
    )
    today = timezone.localdate()
    for back in range(0, 330, 30):
        AudienceSnapshotFactory(
            day=today - timedelta(days=back), users=1000 - back, reachable=900 - back * 2, opted_out=20 + back // 10,
            suppressed=5 + back // 30,
        )  # fmt: skip
    segment = SegmentFactory(name="Londoners", states=["London"])
    for back in range(45):
        SegmentSnapshotFactory(
            segment=segment, day=today - timedelta(days=back), matching=400 + back, reachable=350 + back
        )
    campaign_reports_refresh_due()
    sign_in(page, live_server.url)

    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
    charts = page.locator("#campaign-charts")
    charts.wait_for()
    page.wait_for_selector("#campaign-charts [data-drawn='true']")
    drawn = {
        figure.get_attribute("id"): figure.get_attribute("data-series")
        for figure in charts.locator("figure[data-drawn='true']").all()
    }
    assert drawn[f"campaign-{campaign.pk}-hourly"] == "opened machine_opened clicked"
    assert drawn[f"campaign-{campaign.pk}-daily"] == "opened machine_opened clicked"
    assert drawn[f"campaign-{campaign.pk}-funnel"] == "recipients"
    assert drawn[f"campaign-{campaign.pk}-domains"] == "delivered bounced unreported failed"
    # The canvas has pixels (Chart.js drew), and the numbers are in a table for screen readers.
    painted = page.evaluate(
        "id => { const c = document.querySelector('#' + id + ' canvas');"
        " return c.width > 0 && c.toDataURL().length > 2000; }",
        f"campaign-{campaign.pk}-hourly",
    )
    assert painted
    # (in a closed <details>: its text is there for screen readers and a click away for everyone)
    assert "gmail.com" in charts.locator(f"#campaign-{campaign.pk}-domains table").text_content()
    charts.scroll_into_view_if_needed()
    shot(page, "12-campaign-charts", full_page=False)

    # The same page in the admin's dark theme: the charts are drawn again in its colours.
    page.evaluate("localStorage.setItem('theme', 'dark'); document.documentElement.dataset.theme = 'dark'")
    page.wait_for_timeout(300)
    legend_colour = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--body-fg').trim()")
    assert legend_colour.lower() not in ("#333", "#333333", "")
    shot(page, "13-campaign-charts-dark", full_page=False)
    page.evaluate("localStorage.removeItem('theme'); delete document.documentElement.dataset.theme")

    page.goto(f"{live_server.url}/admin/")
    dashboard = page.locator("#staff-dashboard")
    dashboard.wait_for()
    page.wait_for_selector("#dashboard-campaigns[data-drawn='true']")
    page.wait_for_selector("#dashboard-audience[data-drawn='true']")
    assert "Autumn programme" in text(page.locator("#dashboard-latest"))
    assert "Winter news" in text(page.locator("#dashboard-upcoming"))
    assert "webhook events waiting 0" in text(page.locator("#dashboard-machinery")).lower()
    assert page.locator("#dashboard-models").is_visible()
    shot(page, "14-dashboard")

    page.goto(f"{live_server.url}/admin/segments/segment/{segment.pk}/change/")
    page.wait_for_selector(f"#segment-{segment.pk}-size[data-drawn='true']")
    assert page.locator(f"#segment-{segment.pk}-size").get_attribute("data-series") == "matching reachable"
    page.locator("#segment-size-history").scroll_into_view_if_needed()
    shot(page, "15-segment-size", full_page=False)
