"""Every page of each role fits a 390 px phone: the document is never wider than the viewport
(wide tables scroll inside their own box), and a dataset's License button is on screen.

The pages are read from the URL map (GET routes that answer HTML), so a new page is checked as
soon as it exists; each role visits all of them, and the error pages it gets must fit too.
"""
from __future__ import annotations

import itertools

import pytest
import requests
from playwright.sync_api import expect

from tests.licensing.test_over_http import confirm_with_test_card, publish, wait_for_status

pytestmark = [pytest.mark.e2e]

PHONE = {"width": 390, "height": 844}
#: Not pages: machine-readable documents, downloads, the API and its docs.
NOT_PAGES = ("/api/", "/static/", "/webhooks/")
NOT_PAGE_SUFFIXES = (".csv", ".json", ".xml", ".txt", ".ico")
_n = itertools.count(1)
PASSWORD = "correct horse battery"


def organization(base: str, kind: str) -> dict:
    n = next(_n)
    email = f"phone-{kind}-{n}@example.test"
    response = requests.post(f"{base}/api/v1/organizations", timeout=10, json={
        "kind": kind, "name": f"Phone {kind} {n}", "owner": {"email": email, "password": PASSWORD}})
    assert response.status_code == 201, response.text
    return {"email": email, "headers": {"Authorization": f"Bearer {response.json()['api_key']}"}}


def log_in(page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


@pytest.fixture(scope="module")
def world(live_server, localstripe_url):
    base = live_server.url
    platform, buyer = organization(base, "platform"), organization(base, "buyer")
    offer = publish(base, platform["headers"], [("phone-ana", "US", 3), ("phone-bo", "DE", 2)])
    license = requests.post(f"{base}/api/v1/licenses", json={"offer_id": offer["id"]}, headers=buyer["headers"],
                            timeout=30).json()
    confirm_with_test_card(localstripe_url, license)
    wait_for_status(base, buyer["headers"], license["id"], "active")
    code = requests.post(f"{base}/api/v1/contributors/phone-ana/claim-codes", headers=platform["headers"],
                         timeout=10).json()["code"]
    contributor_email = f"phone-ana-{next(_n)}@example.test"
    claimed = requests.post(f"{base}/api/v1/contributors/claim", timeout=10,
                            json={"code": code, "email": contributor_email, "password": PASSWORD})
    assert claimed.status_code == 201, claimed.text
    statement = requests.get(f"{base}/api/v1/me/statement", timeout=10,
                             headers={"Authorization": f"Bearer {claimed.json()['api_key']}"}).json()
    admin_email = f"phone-admin-{next(_n)}@example.test"
    made = live_server.flask("admin", "create", admin_email, "--password", PASSWORD)
    assert made.returncode == 0, made.stderr
    return {
        "values": {"slug": offer["dataset"], "license_id": license["id"], "offer_id": offer["id"],
                   "transaction_id": statement["items"][0]["transaction_id"], "external_id": "phone-ana"},
        "roles": {"anonymous": None, "platform": platform["email"], "buyer": buyer["email"],
                  "contributor": contributor_email, "admin": admin_email},
    }


def pages(app, values: dict) -> list[str]:
    urls = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.rule.startswith(NOT_PAGES) or rule.rule.endswith(NOT_PAGE_SUFFIXES):
            continue
        missing = set(rule.arguments) - set(values)
        assert not missing, f"teach this test to fill {missing} for {rule.rule}"
        urls.append(rule.build({name: values[name] for name in rule.arguments}, append_unknown=False)[1])
    return urls


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
