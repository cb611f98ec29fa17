"""The staff's whole path in a real browser (Debian's Chromium through Playwright) against a live
server: sign in, build a segment, write a campaign, preview and test it, send it, watch a worker
deliver it to the fake Brevo, see progress and results, then follow a recipient's one-click
unsubscribe link and see them leave the audience.

Screenshots of the key pages go to test-artifacts/browser/ (not committed; the best ones are
copied to docs/screenshots/ by hand).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings

from accounts.models import OptOutMethod, Role, User
from accounts.tests.factories import UserFactory
from campaigns import tracking as tracking_module
from campaigns.models import Campaign, CampaignStatus, SubscriptionChange
from segments.models import Segment

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(django_settings.BASE_DIR) / "test-artifacts" / "browser"
PASSWORD = "Browser-Test-pw-42"

pytestmark = [
    pytest.mark.browser,
    # The live server thread sees only committed data.
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]


@pytest.fixture
def browser_page(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        # The admin asks "Send this campaign to N people now?" in a confirm() dialog.
        page.on("dialog", lambda dialog: dialog.accept())
        yield page
        context.close()
        browser.close()


def shot(page, name: str, *, email: bool = False) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    if email:
        preview = page.locator("#campaign-preview")
        # The preview is a sandboxed iframe, painted by its own renderer: a full-page capture
        # leaves it blank, so it gets a capture of its own once on screen.
        preview.scroll_into_view_if_needed()
        page.frame_locator("#campaign-preview").locator("body").wait_for()
        preview.screenshot(path=str(ARTIFACTS / f"{name}-email.png"))


def post_tracking(base_url: str, payload: dict) -> None:
    auth = base64.b64encode(b"hook:secret").decode()
    response = requests.post(
        f"{base_url}/anymail/brevo/tracking/",
        data=json.dumps(payload),
        headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200


def test_staff_send_a_campaign_and_a_recipient_unsubscribes(
    browser_page, live_server, brevo, run_jobs, settings, monkeypatch
):
    page = browser_page
    base = live_server.url
    # Links in the mail point at this server, so the browser can follow them.
    settings.SITE_URL = base
    settings.CAMPAIGN_SEND_CONCURRENCY = 1
    monkeypatch.setattr(tracking_module, "SCHEDULE_INTERVAL_SECONDS", 0.0)
    UserFactory(role=Role.ADMIN, email="staff@example.com", password=PASSWORD, state="")
    londoners = [UserFactory(email=f"reader{number}@example.com", state="London") for number in range(3)]
    UserFactory(email="leeds@example.com", state="Leeds")
    UserFactory(email="unverified@example.com", state="London", is_verified=False)

    # Sign in.
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "staff@example.com")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    assert page.url.rstrip("/").endswith("/admin")

    # A segment with criteria, and its live count.
    page.goto(f"{base}/admin/segments/segment/add/")
    page.fill("#id_name", "Londoners")
    page.fill("#id_states", "London")
    page.click("input[name=_continue]")
    audience = page.locator("#segment-audience")
    audience.wait_for()
    assert "4 matching users, of whom 3 can be emailed" in " ".join(audience.inner_text().split())
    shot(page, "01-segment")
    segment = Segment.objects.get(name="Londoners")

    # A campaign aimed at the segment, with its preview.
    page.goto(f"{base}/admin/campaigns/campaign/add/")
    page.fill("#id_subject", "Spring news for {{ first_name }}")
    page.fill(
        "#id_body_html",
        '<p>Hello {{ first_name | default:"friend" }},</p>'
        '<p>Our <a href="https://example.com/offer">spring offer</a>.</p>',
    )
    page.fill("#id_segment", str(segment.pk))
    page.click("input[name=_continue]")
    page.locator("#campaign-reachable").wait_for()
    assert "3 users can be reached now" in " ".join(page.locator("#campaign-reachable").inner_text().split())
    preview = page.frame_locator("#campaign-preview")
    assert "Our spring offer" in preview.locator("body").inner_text()
    # The footer every message gets: the unsubscribe link and the postal address.
    assert django_settings.SENDER_POSTAL_ADDRESS in preview.locator("body").inner_text()
    shot(page, "02-campaign-preview", email=True)
    campaign = Campaign.objects.get(segment=segment)

    # A test send goes to the fake Brevo, marked as a test, and records no recipient.
    page.fill("#campaign-test-emails", "staff@example.com")
    page.click("#campaign-actions ~ .form-row input[type=submit]")
    page.locator(".messagelist").wait_for()
    assert "Test sent to staff@example.com" in page.locator(".messagelist").inner_text()
    assert [message["to"] for message in brevo.messages] == ["staff@example.com"]
    assert "[TEST]" in brevo.messages[0]["subject"]

    # Send it; a worker delivers it to the fake Brevo.
    page.click("#campaign-actions input[value='Send now']")
    page.locator(".messagelist").wait_for()
    assert "Sending has started." in page.locator(".messagelist").inner_text()
    run_jobs()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    sent = [message for message in brevo.messages if message["to"] != "staff@example.com"]
    assert sorted(message["to"] for message in sent) == sorted(user.email for user in londoners)

    # Brevo reports deliveries, an open and a click; the page shows progress and results.
    for message in sent:
        post_tracking(base, {"event": "delivered", "email": message["to"], "message-id": message["message_id"],
                             "ts_epoch": 1_795_000_000_000})  # fmt: skip
    first = sent[0]
    post_tracking(base, {"event": "unique_opened", "email": first["to"], "message-id": first["message_id"],
                         "ts_epoch": 1_795_000_060_000})  # fmt: skip
    post_tracking(base, {"event": "click", "email": first["to"], "message-id": first["message_id"],
                         "ts_epoch": 1_795_000_090_000, "link": "https://example.com/offer"})  # fmt: skip
    run_jobs()
    page.goto(f"{base}/admin/campaigns/campaign/{campaign.pk}/change/")
    stats = " ".join(page.locator("#campaign-stats").inner_text().split())
    assert "3 of 3 accepted by Brevo" in stats
    assert page.locator("#result-delivered").inner_text().startswith("3")
    assert page.locator("#result-opened").inner_text().startswith("1")
    assert page.locator("#result-clicked").inner_text().startswith("1")
    assert "https://example.com/offer" in page.locator("#campaign-links").inner_text()
    shot(page, "03-campaign-sent-results")

    # A recipient follows the List-Unsubscribe link Brevo received for them, and confirms.
    leaver_message = sent[1]
    link = leaver_message["headers"]["List-Unsubscribe"].strip("<>")
    assert leaver_message["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link.startswith(base)
    visitor = page.context.browser.new_context()
    unsubscribe_page = visitor.new_page()
    unsubscribe_page.goto(link)
    assert "Unsubscribe from our emails?" in unsubscribe_page.content()
    assert User.objects.get(email=leaver_message["to"]).email_opted_out_at is None  # GET changes nothing
    unsubscribe_page.screenshot(path=str(ARTIFACTS / "04-unsubscribe-confirm.png"), full_page=True)
    unsubscribe_page.click("#confirm-unsubscribe")
    unsubscribe_page.wait_for_selector("#resubscribe")
    assert "You are unsubscribed" in unsubscribe_page.content()
    unsubscribe_page.screenshot(path=str(ARTIFACTS / "05-unsubscribe-done.png"), full_page=True)
    visitor.close()
    leaver = User.objects.get(email=leaver_message["to"])
    change = SubscriptionChange.objects.get(user=leaver)
    assert (change.campaign_id, change.method) == (campaign.pk, OptOutMethod.LINK)

    # The next audience leaves them out: the segment now reaches two of its four members.
    page.goto(f"{base}/admin/segments/segment/{segment.pk}/change/")
    assert "4 matching users, of whom 2 can be emailed" in " ".join(
        page.locator("#segment-audience").inner_text().split()
    )
    row = page.locator("#segment-preview tr", has_text=leaver.email)
    assert row.locator("td").last.inner_text() == "no"
    page.goto(f"{base}/admin/campaigns/campaign/add/")
    page.fill("#id_subject", "Summer news")
    page.fill("#id_body_html", "<p>Summer</p>")
    page.fill("#id_segment", str(segment.pk))
    page.click("input[name=_continue]")
    assert "2 users can be reached now" in " ".join(page.locator("#campaign-reachable").inner_text().split())
    shot(page, "06-next-audience")
