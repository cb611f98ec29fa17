"""What the browser tests share: where Chromium and the screenshots are, the staff's password,
the screen they look at, and the small steps every walk repeats."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings as django_settings

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(django_settings.BASE_DIR) / "test-artifacts" / "browser"
PASSWORD = "Browser-Test-pw-42"
WIDTH = 1366
ZONE = "Europe/Paris"

# Every browser test: marked as one, with committed data (the live server's thread sees only
# that), skipped where there is no Chromium.
BROWSER_TEST = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]


def shot(page, name: str, *, email: bool = False, full_page: bool = True) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)
    if email:
        preview = page.locator("#campaign-preview")
        # The preview is a sandboxed iframe, painted by its own renderer: a full-page capture
        # leaves it blank, so it gets a capture of its own once on screen.
        preview.scroll_into_view_if_needed()
        page.frame_locator("#campaign-preview").locator("body").wait_for()
        preview.screenshot(path=str(ARTIFACTS / f"{name}-email.png"))


def text(locator) -> str:
    return " ".join(locator.inner_text().split())


def assert_no_horizontal_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH, page.url


def message(page) -> str:
    page.locator(".messagelist").wait_for()
    return text(page.locator(".messagelist"))


def sign_in(page, base: str) -> None:
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "staff@example.com")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def pick_segment(page, name: str) -> None:
    """The audience's segment picker is Django's autocomplete: type, then take the match."""
    page.click(".field-segment .select2-selection")
    page.keyboard.type(name)
    page.locator(".select2-results__option", has_text=name).first.click()
