"""Every page of each role fits a 390 px phone: the document is never wider than the viewport
(wide tables scroll inside their own box), and a dataset's License button is on screen.

The pages are read from the URL map (GET routes that answer HTML), so a new page is checked as
soon as it exists; each role visits all of them, and the error pages it gets must fit too.
"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.site import log_in, pages

pytestmark = [pytest.mark.e2e]

PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("role", ["anonymous", "platform", "buyer", "contributor", "admin"])
def test_every_page_fits_a_phone(browser, live_server, app, world, role):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    page = context.new_page()
    try:
        if world["roles"][role]:
            log_in(page, world["roles"][role])
        too_wide, visited = [], 0
        for url in pages(app, world["values"]):
            page.goto(url)
            visited += 1
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                too_wide.append(f"{url} ({width}px)")
        assert visited >= 25
        assert not too_wide, f"wider than a {PHONE['width']} px phone as {role}: {too_wide}"
    finally:
        context.close()


def test_the_license_button_is_on_screen_on_a_phone(browser, live_server, world):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    page = context.new_page()
    try:
        log_in(page, world["roles"]["buyer"])
        page.goto(f"/datasets/{world['values']['slug']}")
        button = page.get_by_role("button", name="License under Training")
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        expect(page.get_by_text("1,234.57 USD").first).to_be_visible()
        price = page.get_by_text("1,234.57 USD").first.bounding_box()
        assert price["x"] + price["width"] <= PHONE["width"], price
    finally:
        context.close()


def test_the_platform_report_fits_a_1280_px_screen(browser, live_server, world):
    """Its widest table, consent column included, fits a laptop screen without scrolling sideways."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        log_in(page, world["roles"]["platform"])
        page.goto("/platform/report")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        last = page.get_by_role("columnheader", name="Consent").bounding_box()
        assert last["x"] + last["width"] <= 1280, last
        scroller = page.locator("table:has(th:text('Consent'))").evaluate(
            "t => [t.parentElement.scrollWidth, t.parentElement.clientWidth]")
        assert scroller[0] <= scroller[1], scroller
    finally:
        context.close()
