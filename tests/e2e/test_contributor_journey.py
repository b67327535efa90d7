"""A contributor claims their identity with the platform's code, reads a statement with its chart,
withdraws consent, and anyone reads the dataset's public transparency report."""
from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from marketplace.allocation.split import largest_remainder, split
from tests.licensing.test_over_http import confirm_with_test_card, publish, sign_up, wait_for_status

pytestmark = [pytest.mark.e2e]

GROSS, FEE_BPS, SHARE_BPS = 123_457, 500, 6000
PEOPLE = [("maya", "US", 3), ("noor", "CA", 1)]


def paid_license(base: str, localstripe_url: str) -> dict:
    """A platform publishes PEOPLE's records; a buyer pays for a license on localstripe."""
    platform, buyer = sign_up(base, "platform"), sign_up(base, "buyer")
    offer = publish(base, platform, PEOPLE)
    created = requests.post(f"{base}/api/v1/licenses", json={"offer_id": offer["id"]}, headers=buyer, timeout=30)
    assert created.status_code == 201, created.text
    license = created.json()
    confirm_with_test_card(localstripe_url, license)
    wait_for_status(base, buyer, license["id"], "active")
    return {"platform": platform, "slug": offer["dataset"], "license_id": license["id"]}


def test_claim_statement_withdraw_and_the_public_report(page, live_server, localstripe_url):
    base = live_server.url
    sale = paid_license(base, localstripe_url)
    fee, to_platform, pool = split(GROSS, FEE_BPS, SHARE_BPS)
    maya, noor = largest_remainder(pool, [(person, records) for person, _region, records in PEOPLE])
    assert (maya, noor) == (52_778, 17_593)

    # The platform hands Maya a one-time code (by mail, in real life).
    issued = requests.post(f"{base}/api/v1/contributors/maya/claim-codes", headers=sale["platform"], timeout=10)
    assert issued.status_code == 201, issued.text
    code = issued.json()["code"]

    # Maya claims: the account is created, she is logged in, her earnings from before the claim are there.
    page.goto("/claim")
    page.get_by_label("Claim code").fill(code.lower().replace("-", " "))  # case and separators don't matter
    page.get_by_label("E-mail").fill("maya@example.test")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Claim").click()
    expect(page).to_have_url(re.compile("/me/statement$"))
    expect(page.get_by_role("heading", name="Your statement")).to_be_visible()
    expect(page.locator("#statement-chart")).to_be_visible()  # Chart.js drew the months
    line = page.get_by_role("row").filter(has_text="Woodworking posts")
    expect(line).to_have_count(1)
    expect(line).to_contain_text("527.78")
    # Every line leads to the ledger entries behind it.
    line.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/me/ledger/\d+$"))
    expect(page.get_by_text("52,778").or_(page.get_by_text("527.78")).first).to_be_visible()

    # She withdraws training use of this dataset; it is recorded at once.
    page.goto("/me/consent")
    page.get_by_label("For", exact=True).select_option(label="Woodworking posts")
    page.get_by_label("Use", exact=True).select_option(value="ai-train")
    page.get_by_label("Withdraw", exact=True).check()
    page.get_by_role("button", name="Save decision").click()
    standing = page.get_by_role("row").filter(has_text="withdrawn")
    expect(standing.first).to_be_visible()
    expect(page.get_by_role("cell", name=sale["slug"]).first).to_be_visible()

    # Anyone can read how the dataset's money was shared; the four shares add up to the gross.
    anonymous = page.context.browser.new_context(base_url=base)
    public = anonymous.new_page()
    public.goto(f"/datasets/{sale['slug']}/transparency")
    expect(public.get_by_role("heading", name="Transparency report")).to_be_visible()
    report = requests.get(f"{base}/api/v1/datasets/{sale['slug']}/transparency", timeout=10).json()
    assert (report["gross"]["amount"], report["marketplace_fees"]["amount"], report["to_platform"]["amount"],
            report["to_contributors"]["amount"], report["unallocated"]["amount"]) == (
        GROSS, fee, to_platform, maya + noor, 0)
    assert (report["licenses_sold"], report["contributors_paid"]) == (1, 2)
    assert report["consent"]["withdrawn"] == 1
    for figure in (GROSS, fee, to_platform, maya + noor):
        expect(public.get_by_text(f"{figure / 100:,.2f}").first).to_be_visible()
    expect(public.locator("#payout-chart")).to_be_visible()
    anonymous.close()
