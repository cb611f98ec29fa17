"""Engagement in a real browser (Chromium through Playwright, like the walkthrough): a segment of
those who did not open a campaign, built with the campaign picker and its live count, then a
follow-up made from the sent campaign's page with the sizes it shows."""

from __future__ import annotations

from django.utils import timezone

from accounts.models import Role
from accounts.tests.factories import UserFactory
from campaigns.models import Campaign, CampaignStatus, RecipientStatus
from campaigns.tests.browser.pages import (
    BROWSER_TEST,
    PASSWORD,
    assert_no_horizontal_scroll,
    message,
    shot,
    sign_in,
    text,
)
from campaigns.tests.factories import CampaignFactory, CampaignRecipientFactory
from segments.models import Segment

pytestmark = BROWSER_TEST


def test_staff_build_an_engagement_segment_and_follow_up_a_campaign(browser_page, live_server):
    page = browser_page
    base = live_server.url
    UserFactory(role=Role.ADMIN, email="staff@example.com", password=PASSWORD)
    now = timezone.now()
    october = CampaignFactory(
        name="October news", status=CampaignStatus.SENT, started_at=now, sent_at=now, audience_frozen_at=now
    )
    CampaignFactory(name="October draft", status=CampaignStatus.DRAFT)
    # Ann opened it, Bob's mail app (a proxy) opened it for him, Cy clicked, Di did nothing.
    for name, values in {
        "ann": {"first_opened_at": now, "last_engaged_at": now},
        "bob": {"first_machine_opened_at": now},
        "cy": {"first_opened_at": now, "first_clicked_at": now, "last_engaged_at": now},
        "di": {},
    }.items():
        user = UserFactory(email=f"{name}@example.com")
        CampaignRecipientFactory(
            campaign=october, user=user, email=user.email, status=RecipientStatus.SENT, sent_at=now, **values
        )
    sign_in(page, base)

    # The picker searches sent campaigns by name; drafts are not offered.
    page.goto(f"{base}/admin/segments/segment/add/")
    page.fill("#id_name", "Did not open October")
    page.click(".field-not_opened_campaigns .select2-selection")
    page.keyboard.type("Octob")
    option = page.locator(".select2-results__option", has_text="October news (sent ")
    option.wait_for()
    assert page.locator(".select2-results__option", has_text="October draft").count() == 0
    option.click()
    # The live count follows the pick: Bob (opened only by a proxy) and Di.
    page.wait_for_function("document.querySelector('#segment-live-count [data-live=matching]').textContent === '2'")
    assert_no_horizontal_scroll(page)
    shot(page, "20-engagement-segment-builder")
    page.click("input[name=_continue]")
    page.locator("#segment-audience").wait_for()
    assert "2 matching users, of whom 2 can be emailed" in text(page.locator("#segment-audience"))
    segment = Segment.objects.get(name="Did not open October")
    assert segment.extra_criteria == {"not_opened_campaigns": [october.pk]}
    assert "October news (sent " in text(page.locator(".field-not_opened_campaigns .select2-selection"))

    # The sent campaign offers its follow-ups with the people each would reach now.
    page.goto(f"{base}/admin/campaigns/campaign/{october.pk}/change/")
    buttons = {
        audience: page.locator(f"#follow-up-{audience}").get_attribute("value")
        for audience in ("not_opened", "not_clicked", "opened", "clicked")
    }
    assert buttons == {
        "not_opened": "Did not open (2)",
        "not_clicked": "Did not click (3)",
        "opened": "Opened (2)",
        "clicked": "Clicked (1)",
    }
    assert_no_horizontal_scroll(page)
    shot(page, "21-campaign-follow-up")
    page.click("#follow-up-not_opened")
    assert message(page).startswith("Follow-up draft “October news — follow-up: did not open” made")
    draft = Campaign.objects.get(status=CampaignStatus.DRAFT, name__startswith="October news — follow-up")
    assert page.url.endswith(f"/admin/campaigns/campaign/{draft.pk}/change/")
    assert text(page.locator("#campaign-reachable")).startswith("2 users can be reached now")
    shot(page, "22-follow-up-draft")
