"""A real browser for these tests: Debian's Chromium through Playwright, on a laptop screen in
Paris time, accepting the admin's confirm() dialogs."""

from __future__ import annotations

import pytest

from campaigns.tests.browser.pages import ARTIFACTS, CHROMIUM, WIDTH, ZONE


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
        context = browser.new_context(viewport={"width": WIDTH, "height": 900}, timezone_id=ZONE)
        page = context.new_page()
        page.set_default_timeout(15_000)
        # The admin asks "Send this campaign to N people now?" in a confirm() dialog.
        page.on("dialog", lambda dialog: dialog.accept())
        yield page
        context.close()
        browser.close()
