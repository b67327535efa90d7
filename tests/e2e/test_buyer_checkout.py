"""A buyer logs in, licenses a dataset through the checkout page with the test card, sees it active."""
from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.checkout import license_and_pay
from tests.e2e.test_platform_journey import sign_up
from tests.licensing.test_over_http import publish
from tests.licensing.test_over_http import sign_up as api_sign_up

pytestmark = [pytest.mark.e2e]


def test_buyer_buys_with_the_test_card_and_sees_it_active(page, live_server):
    platform = api_sign_up(live_server.url, "platform")
    offer = publish(live_server.url, platform, [("ines", "US", 3), ("jon", "BR", 2)])
    slug = offer["dataset"]
    sign_up(page, "buyer", "Orchard Models")
    page.goto(f"/datasets/{slug}")
    page.get_by_role("button", name="License under Training").click()
    expect(page.get_by_text("1,234.57 USD")).to_be_visible()
    page.get_by_role("button", name="Accept the terms and continue to payment").click()
    expect(page).to_have_url(re.compile(r"/licenses/\d+/pay$"))
    page.get_by_placeholder("number").fill("4242424242424242")
    page.get_by_placeholder("exp_month").fill("12")
    page.get_by_placeholder("exp_year").fill("34")
    page.get_by_placeholder("cvc").fill("123")
    page.get_by_placeholder("postal_code").fill("42424")
    page.get_by_role("button", name=re.compile("^Pay ")).click()
    expect(page).to_have_url(re.compile(r"/licenses/\d+$"))
    # The page polls until localstripe's signed webhook has activated the license.
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "active", timeout=20_000)
    expect(page.get_by_text("To contributors")).to_be_visible()
    license_id = int(page.url.rsplit("/", 1)[1])
    page.goto("/licenses")
    expect(page.get_by_role("link", name=str(license_id))).to_be_visible()
    anonymous = requests.get(f"{live_server.url}/licenses/{license_id}", allow_redirects=False, timeout=10)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_a_card_typed_with_spaces_pays_and_the_page_shows_one_state(page, live_server):
    """What people type ("4242 4242 4242 4242") is accepted, and right after the card is accepted
    the license page says one thing (payment received, being confirmed), never "Pay now" beside it,
    then turns active by itself."""
    platform = api_sign_up(live_server.url, "platform")
    offer = publish(live_server.url, platform, [("kai", "US", 2)])
    sign_up(page, "buyer", "Spaced Cards Inc")
    license_and_pay(page, offer["dataset"], card="4242 4242 4242 4242")
    status = page.locator("#license-status")
    expect(status).not_to_contain_text("Pay now")
    expect(status).not_to_contain_text("waiting for payment")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "active", timeout=20_000)
    expect(page.get_by_text("paid", exact=True)).to_be_visible()
    expect(page.get_by_text("requires_payment")).to_have_count(0)
