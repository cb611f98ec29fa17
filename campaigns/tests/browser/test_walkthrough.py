"""The staff's whole path in a real browser (Debian's Chromium through Playwright) against a live
server, as a new staff member walks it: sign in, build a segment, write a campaign (audience
count, preview and test send before saving), send it, watch a worker deliver it to the fake
Brevo, read the results, then follow a recipient's unsubscribe link and see them leave the
audience; and the careless actions (an empty audience scheduled, Save on a sent campaign from a
stale tab, "Send now" from two tabs), each answered in words a person can act on.

Screenshots of the key pages go to test-artifacts/browser/ (not committed; the telling ones are
copied to docs/screenshots/ by hand). The viewport is a 1366 px laptop screen, in Paris time.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import requests
from django.conf import settings as django_settings

from accounts.models import OptOutMethod, Role, User
from accounts.tests.factories import UserFactory
from campaigns import queue as tracking_queue
from campaigns.models import Campaign, CampaignStatus, SubscriptionChange
from campaigns.tests.browser.pages import (
    ARTIFACTS,
    BROWSER_TEST,
    PASSWORD,
    ZONE,
    assert_no_horizontal_scroll,
    message,
    pick_segment,
    shot,
    sign_in,
    text,
)
from segments.models import Membership, Segment
from segments.tests.factories import SegmentFactory

pytestmark = BROWSER_TEST


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
    settings.DEFAULT_FROM_EMAIL = "News <news@example.com>"
    monkeypatch.setattr(tracking_queue, "SCHEDULE_INTERVAL_SECONDS", 0.0)
    UserFactory(role=Role.ADMIN, email="staff@example.com", password=PASSWORD, state="", first_name="Sam")
    londoners = [UserFactory(email=f"reader{number}@example.com", state="London") for number in range(3)]
    UserFactory(email="leeds@example.com", state="Leeds")
    UserFactory(email="unverified@example.com", state="London", is_verified=False)

    # Sign in: a branded home page, models grouped by what staff do, an icon that loads.
    sign_in(page, base)
    assert page.url.rstrip("/").endswith("/admin")
    assert page.title() == "Home | Audience mail"
    assert text(page.locator("#site-name")) == "Audience mail"
    captions = [text(caption) for caption in page.locator("#content-main caption").all()]
    assert captions[:3] == ["AUDIENCE", "SEGMENTS", "CAMPAIGNS"] or captions[:3] == [
        "Audience",
        "Segments",
        "Campaigns",
    ]
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(f"{base}{icon}").status == 200
    assert_no_horizontal_scroll(page)
    shot(page, "00-home")

    # A segment built with a live count. Countries read by name; a misspelt state is flagged at
    # once (and kept if saved: free entry); the real one is picked from the states users have.
    page.goto(f"{base}/admin/segments/segment/add/")
    assert_no_horizontal_scroll(page)
    assert page.locator("#id_countries_from option").first.inner_text() == "Afghanistan (AF)"
    page.fill("#id_name", "Londoners")
    page.fill("#id_states", "Lodnon")
    unmatched = page.locator("#states-unmatched", has_text="Lodnon")
    unmatched.wait_for()
    assert text(unmatched).startswith("Matches nobody yet: “Lodnon”.")
    page.fill("#id_states", "")
    page.fill(".field-states .segment-pick-input", "London")
    page.click(".field-states .segment-pick-add")
    assert page.locator("#id_states").input_value() == "London"
    page.wait_for_function("document.querySelector('#segment-live-count [data-live=reachable]').textContent === '3'")
    assert "4 matching users, of whom 3 can be emailed" in text(page.locator("#segment-live-count"))
    assert page.locator("#states-unmatched").is_hidden()
    shot(page, "01-segment-builder")
    page.click("input[name=_continue]")
    audience = page.locator("#segment-audience")
    audience.wait_for()
    assert "4 matching users, of whom 3 can be emailed" in text(audience)
    # Each member who cannot be emailed says why.
    unverified_row = page.locator("#segment-preview tr", has_text="unverified@example.com")
    assert unverified_row.locator("td").last.inner_text() == "no — address not verified"
    assert_no_horizontal_scroll(page)
    shot(page, "01-segment")
    segment = Segment.objects.get(name="Londoners")

    # A campaign, top to bottom. The count follows the audience picker before anything is saved.
    page.goto(f"{base}/admin/campaigns/campaign/add/")
    assert_no_horizontal_scroll(page)
    page.fill("#id_name", "Autumn programme")
    page.select_option("#id_target_segment", "ALL")
    pick_segment(page, "Londoners")
    page.wait_for_function("document.querySelector('#campaign-reachable strong').textContent === '3'")
    assert text(page.locator("#campaign-reachable")).startswith("3 users can be reached now")
    # The sender as recipients will see it: the From name with the default address.
    page.fill("#id_from_name", "The Walkthrough Team")
    page.fill("#id_from_email", "")
    page.fill("#id_subject", "{{ first_name }}, our autumn programme is here")
    page.fill(
        "#id_body_html",
        '<p>Hello {{ first_name | default:"friend" }},</p>'
        '<p>Our <a href="https://example.com/offer">autumn offer</a>.</p>',
    )
    # The preview beside the editor follows the typing.
    preview = page.frame_locator("#campaign-preview")
    preview.locator("text=Our autumn offer").wait_for()
    assert text(page.locator("#campaign-preview-subject")) == "Sam, our autumn programme is here"
    assert text(page.locator("#campaign-sender")) == "From: The Walkthrough Team <news@example.com>"
    assert django_settings.SENDER_POSTAL_ADDRESS in preview.locator("body").inner_text()
    # A test send before the first save: what the page holds goes out, marked as a test.
    page.fill("#campaign-test-emails", "staff@example.com")
    page.click("#campaign-test-button")
    page.locator("#campaign-test-result.campaign-ok").wait_for()
    assert text(page.locator("#campaign-test-result")) == "Test sent to staff@example.com."
    assert [message["to"] for message in brevo.messages] == ["staff@example.com"]
    assert brevo.messages[0]["subject"].startswith("[TEST]")
    assert not Campaign.objects.exists()
    shot(page, "02-campaign-draft", email=True)

    # Saved from the bar at the top; the actions stay within the first screen.
    page.click("#campaign-actions input[value='Save draft']")
    page.locator("#campaign-actions input[value='Send now']").wait_for()
    campaign = Campaign.objects.get(segment=segment)
    assert (campaign.name, campaign.from_name, campaign.from_email) == ("Autumn programme", "The Walkthrough Team", "")
    assert page.locator("#campaign-actions input[value='Send now']").bounding_box()["y"] < 400
    assert text(page.locator(".campaign-zone")) == f"({ZONE})"
    assert "Autumn programme" in page.title()
    shot(page, "03-campaign-saved", email=True)

    # Two more tabs open on the draft: they will be stale once the first one sends.
    second_tab = page.context.new_page()
    second_tab.on("dialog", lambda dialog: dialog.accept())
    second_tab.goto(page.url)
    stale_tab = page.context.new_page()
    stale_tab.goto(page.url)

    # Send; a worker delivers it to the fake Brevo.
    page.click("#campaign-actions input[value='Send now']")
    assert message(page) == "Sending has started."
    run_jobs()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    sent = [message for message in brevo.messages if message["to"] != "staff@example.com"]
    assert sorted(message["to"] for message in sent) == sorted(user.email for user in londoners)
    assert {message["sender"]["name"] for message in sent} == {"The Walkthrough Team"}
    assert {message["sender"]["email"] for message in sent} == {"news@example.com"}

    # "Send now" from the second tab: the send already happened, and it says so, not as a failure.
    second_tab.click("#campaign-actions input[value='Send now']")
    said = message(second_tab)
    assert "Cannot send a campaign that is sent (SENT). It started at" in said
    assert "from another tab or click; it is sent once." in said
    second_tab.close()

    # Save from the stale tab: the campaign's state, not a form error about a field.
    stale_tab.click("#campaign-actions input[value='Save draft']")
    assert message(stale_tab) == "Cannot edit a campaign that is sent (SENT)."
    assert "required" not in stale_tab.content()
    stale_tab.close()
    campaign.refresh_from_db()
    assert campaign.name == "Autumn programme"

    # Brevo reports deliveries, an open and a click; the page reads as a report.
    for each in sent:
        post_tracking(base, {"event": "delivered", "email": each["to"], "message-id": each["message_id"],
                             "ts_epoch": 1_795_000_000_000})  # fmt: skip
    first = sent[0]
    post_tracking(base, {"event": "unique_opened", "email": first["to"], "message-id": first["message_id"],
                         "ts_epoch": 1_795_000_060_000})  # fmt: skip
    post_tracking(base, {"event": "click", "email": first["to"], "message-id": first["message_id"],
                         "ts_epoch": 1_795_000_090_000, "link": "https://example.com/offer"})  # fmt: skip
    run_jobs()
    page.goto(f"{base}/admin/campaigns/campaign/{campaign.pk}/change/")
    stats = text(page.locator("#campaign-stats"))
    assert "3 of 3 accepted by Brevo" in stats
    assert page.locator("#result-delivered").inner_text().startswith("3")
    assert page.locator("#result-opened").inner_text().startswith("1")
    assert page.locator("#result-clicked").inner_text().startswith("1")
    assert "https://example.com/offer" in page.locator("#campaign-links").inner_text()
    assert page.locator("input[name=_save], input[name=_continue]").count() == 0
    assert page.locator("#campaign-actions input[value='Duplicate']").is_visible()
    assert text(page.locator(".campaign-status")) == "Sent"
    assert "{{" not in page.locator("#content").inner_text()
    assert_no_horizontal_scroll(page)
    shot(page, "04-campaign-sent-results")

    # The campaign list names campaigns as staff named them, never by a raw subject.
    page.goto(f"{base}/admin/campaigns/campaign/")
    assert "Autumn programme" in page.locator("#result_list").inner_text()
    assert "{{" not in page.locator("#result_list").inner_text()

    # A recipient follows the List-Unsubscribe link Brevo received for them, and confirms.
    leaver_message = sent[1]
    leaver = User.objects.get(email=leaver_message["to"])
    link = leaver_message["headers"]["List-Unsubscribe"].strip("<>")
    assert leaver_message["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link.startswith(base)
    visitor = page.context.browser.new_context()
    unsubscribe_page = visitor.new_page()
    unsubscribe_page.goto(link)
    assert "Unsubscribe from our emails?" in unsubscribe_page.content()
    # The subject as this recipient got it: their name, never the placeholder.
    said = text(unsubscribe_page.locator("main"))
    assert f"You followed the link in “{leaver.first_name}, our autumn programme is here”." in said
    assert "{{" not in said
    assert leaver.email_opted_out_at is None  # GET changes nothing
    unsubscribe_page.screenshot(path=str(ARTIFACTS / "05-unsubscribe-confirm.png"), full_page=True)
    unsubscribe_page.click("#confirm-unsubscribe")
    unsubscribe_page.wait_for_selector("#resubscribe")
    assert "You are unsubscribed" in unsubscribe_page.content()
    unsubscribe_page.screenshot(path=str(ARTIFACTS / "06-unsubscribe-done.png"), full_page=True)
    visitor.close()
    leaver.refresh_from_db()
    change = SubscriptionChange.objects.get(user=leaver)
    assert (change.campaign_id, change.method) == (campaign.pk, OptOutMethod.LINK)

    # The next audience leaves them out: the segment now reaches two of its four members.
    page.goto(f"{base}/admin/segments/segment/{segment.pk}/change/")
    assert "4 matching users, of whom 2 can be emailed" in text(page.locator("#segment-audience"))
    row = page.locator("#segment-preview tr", has_text=leaver.email)
    assert row.locator("td").last.inner_text().startswith("no — opted out on ")

    # Duplicate the sent campaign: a new draft with the same content, aimed at the same segment.
    page.goto(f"{base}/admin/campaigns/campaign/{campaign.pk}/change/")
    page.click("#campaign-actions input[value='Duplicate']")
    assert message(page).startswith("Duplicated as “Copy of Autumn programme”, a draft")
    assert page.locator("#id_name").input_value() == "Copy of Autumn programme"
    assert text(page.locator("#campaign-reachable")).startswith("2 users can be reached now")
    shot(page, "07-next-audience")


def test_careless_actions_get_answers_a_person_can_act_on(browser_page, live_server, settings):
    page = browser_page
    base = live_server.url
    UserFactory(role=Role.ADMIN, email="staff@example.com", password=PASSWORD)
    UserFactory(email="active@example.com")
    actives = SegmentFactory(name="Active readers", membership=Membership.ACTIVE, created_by=None)
    sign_in(page, base)

    # A contradictory audience is named as such beside the picker, before saving.
    page.goto(f"{base}/admin/campaigns/campaign/add/")
    page.select_option("#id_target_segment", "INACTIVE")
    pick_segment(page, "Active readers")
    warning = page.locator("#campaign-audience-warning.campaign-warning", has_text="exclude each other")
    warning.wait_for()
    assert text(warning) == (
        "“Inactive members” and the segment “Active readers”, which keeps active members, exclude each other."
    )
    assert text(page.locator("#campaign-reachable")).startswith("0 users can be reached now")
    shot(page, "08-contradictory-audience")

    # Saved anyway, then scheduled: refused like "Send now", with the reason, and still a draft.
    page.fill("#id_subject", "Nobody will get this")
    page.fill("#id_body_html", "<p>Hello</p>")
    page.click("#campaign-actions input[value='Save draft']")
    page.locator("#campaign-scheduled-at").wait_for()
    campaign = Campaign.objects.get(segment=actives)
    page.fill("#campaign-scheduled-at", "2031-05-04T09:30")
    page.click("#campaign-schedule input[value='Schedule']")
    said = message(page)
    assert said.startswith(
        "Nobody in this audience can be emailed: “Inactive members” and the segment “Active readers”"
    )
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT

    # Fixed, then scheduled in the staff member's own time zone, and shown with it.
    page.select_option("#id_target_segment", "ACTIVE")
    assert page.locator("#campaign-unsaved").is_visible()
    assert page.locator("#campaign-actions input[value='Send now']").is_disabled()
    page.click("#campaign-actions input[value='Save draft']")
    page.fill("#campaign-scheduled-at", "2031-05-04T09:30")
    page.click("#campaign-schedule input[value='Schedule']")
    assert message(page) == f"Scheduled for 2031-05-04 09:30 ({ZONE})."
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED
    assert campaign.scheduled_at == datetime(2031, 5, 4, 9, 30, tzinfo=ZoneInfo(ZONE))
    assert text(page.locator("#campaign-status-note")) == f"Goes out Sun 4 May 2031, 09:30 ({ZONE})."
    shot(page, "09-scheduled")
