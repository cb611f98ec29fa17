"""A/B tests in a real browser (Chromium through Playwright, like the walkthrough): variants
written inline on a draft and variant B previewed as it would arrive; then a campaign waiting for
its winner, with tracking data, showing its results table, and staff picking the winner."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts.models import Role
from accounts.tests.factories import UserFactory
from campaigns.models import Campaign, CampaignRecipient, CampaignStatus, CampaignVariant, RecipientStatus
from campaigns.tests.browser.pages import (
    ARTIFACTS,
    BROWSER_TEST,
    PASSWORD,
    assert_no_horizontal_scroll,
    message,
    shot,
    sign_in,
    text,
)
from campaigns.tests.factories import CampaignFactory

pytestmark = BROWSER_TEST


def ledger_rows(campaign: Campaign, label: str | None, *, count: int, opened: int = 0, clicked: int = 0) -> None:
    """Ledger rows as the test share left them (a variant's, sent and tracked) or the remainder's (held)."""
    now = timezone.now()
    CampaignRecipient.objects.bulk_create(
        CampaignRecipient(
            campaign=campaign,
            email=f"{label or 'rest'}{index}@example.com",
            variant=label,
            ab_remainder=label is None,
            status=RecipientStatus.SENT if label else RecipientStatus.HELD,
            sent_at=now if label else None,
            delivered_at=now if label else None,
            first_opened_at=now if index < opened else None,
            # Proxies (Apple Mail Privacy Protection) open a share of the rest: shown, never counted.
            first_machine_opened_at=now if label and index >= opened and index % 3 == 0 else None,
            first_clicked_at=now if index < clicked else None,
        )
        for index in range(count)
    )


def test_staff_write_variants_preview_b_and_pick_a_winner(browser_page, live_server):
    page = browser_page
    base = live_server.url
    UserFactory(role=Role.ADMIN, email="staff@example.com", password=PASSWORD)
    draft = CampaignFactory(name="Autumn programme", subject="Autumn news for {{ first_name }}")
    sign_in(page, base)

    # The draft offers rows A and B under the A/B settings; B gets its own subject and sender name.
    page.goto(f"{base}/admin/campaigns/campaign/{draft.pk}/change/")
    assert page.locator("#id_variants-0-label").input_value() == "A"
    assert page.locator("#id_variants-1-label").input_value() == "B"
    page.fill("#id_variants-1-subject", "{{ first_name }}, autumn is here")
    page.fill("#id_variants-1-from_name", "Ana from the club")
    page.fill("#id_ab_test_share", "30")
    page.click("input[name=_continue]")
    assert "was changed successfully" in message(page)
    assert list(draft.variants.values_list("label", "subject")) == [
        ("A", ""),
        ("B", "{{ first_name }}, autumn is here"),
    ]
    assert Campaign.objects.get(pk=draft.pk).ab_test_share == 30

    # B in the preview, as staff would get it: its subject, its sender, the campaign's body.
    page.locator("#variants-1 .variant-preview-button").click()
    page.wait_for_function("document.getElementById('campaign-preview-subject').textContent.endsWith('autumn is here')")
    assert text(page.locator("#campaign-sender")).startswith("From: Ana from the club")
    assert page.locator("#campaign-test-button").inner_text() == "Send test of variant B"
    assert_no_horizontal_scroll(page)
    shot(page, "40-ab-variants", email=True)

    # A test that has sent its share and waits for the winner, with what Brevo reported.
    now = timezone.now()
    waiting = CampaignFactory(
        name="Spring programme",
        subject="Spring news",
        status=CampaignStatus.WAITING_FOR_WINNER,
        started_at=now - timedelta(hours=1),
        audience_frozen_at=now - timedelta(hours=1),
        ab_decide_at=now + timedelta(hours=3),
        recipients_total=1200,
        recipient_count=400,
    )
    CampaignVariant.objects.create(campaign=waiting, label="A")
    CampaignVariant.objects.create(campaign=waiting, label="B", subject="Spring is here, {{ first_name }}")
    ledger_rows(waiting, "A", count=200, opened=31, clicked=6)
    ledger_rows(waiting, "B", count=200, opened=52, clicked=11)
    ledger_rows(waiting, None, count=800)

    page.goto(f"{base}/admin/campaigns/campaign/{waiting.pk}/change/")
    assert "Test share sent; the winner is decided" in text(page.locator("#campaign-status-note"))
    row_b = text(page.locator("#ab-variant-B"))
    assert "Spring is here" in row_b
    assert "52 (26.0 %)" in row_b
    assert "11 (5.5 %)" in row_b
    assert "800" in text(page.locator("#ab-remainder"))
    assert "Waits for the winner" in text(page.locator("#ab-remainder"))
    assert_no_horizontal_scroll(page)
    page.locator("#campaign-ab").scroll_into_view_if_needed()
    shot(page, "41-ab-results-waiting")
    page.locator("#campaign-ab").screenshot(path=str(ARTIFACTS / "41-ab-results-waiting-table.png"))

    # Staff do not wait: B, confirmed in the dialog, goes to the remainder.
    page.click("#ab-pick-B")
    assert "Variant B picked as the winner" in message(page)
    waiting.refresh_from_db()
    assert (waiting.status, waiting.ab_winner) == (CampaignStatus.SENDING, "B")
    decision = text(page.locator("#ab-decision"))
    assert "Variant B won" in decision
    assert "picked by staff" in decision
    assert "by staff@example.com" in decision
    assert "winner" in text(page.locator("#ab-variant-B"))
    assert page.locator("#ab-pick-A").count() == 0
    page.locator("#campaign-ab").scroll_into_view_if_needed()
    shot(page, "42-ab-winner-picked")
    page.locator("#campaign-ab").screenshot(path=str(ARTIFACTS / "42-ab-winner-picked-table.png"))
