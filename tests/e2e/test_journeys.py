"""The four journeys, each from a fresh database, through the pages, in chromium.

Every page a journey passes is saved as a screenshot (`--screenshots DIR` or $DIVIDEND_SCREENSHOTS;
`make screenshots` writes the main ones into docs/screenshots/), and the `journey` fixture fails the
test on any console error, uncaught exception, or request to our own origin that fails or answers
>= 400 (the favicon included).
"""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from marketplace.allocation.split import largest_remainder, split
from tests.e2e.journeys import (
    ACTIVATION_MS,
    DATASET,
    PASSWORD,
    admin,
    admin_pays_out,
    buyer_acknowledges,
    buyer_buys,
    buyer_downloads,
    platform_issues_a_code,
    platform_publishes,
    platform_takes_down,
    set_payout_account,
    sign_up,
    to_top,
    chart_drawn,
)

pytestmark = [pytest.mark.e2e]

GROSS = 250_000  # 2,500.00 USD
SPLIT = split(GROSS, 500, 5000)  # the default 5 % fee; the offer form's default half to contributors
#: Twelve records, three by each of four members: the contributors' pool in four near-equal shares.
SHARES = largest_remainder(SPLIT.pool, [(f"member-{i}", 3) for i in range(4)])


def usd(minor: int) -> str:
    return f"{minor / 100:,.2f}"


def test_platform_operator_journey(journey, tmp_path):
    page = journey.page("platform")
    slug = platform_publishes(journey, page, tmp_path, records=300, throttle_upload=True)
    platform_issues_a_code(journey, page, "member-0")

    buyer = journey.page("buyer", shots=False)
    buyer_buys(journey, buyer, slug)

    # The sale, how it was shared, and the report.
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Sales").click()
    expect(page.get_by_role("heading", name="Sales")).to_be_visible()
    sale = page.get_by_role("row").filter(has_text="Orchard Models")
    expect(sale).to_contain_text(DATASET["title"])
    journey.shot(page, "sales", main=True)
    sale.get_by_role("link", name=re.compile("how it was shared")).click()
    shares = page.get_by_role("table")
    SHARES600 = largest_remainder(SPLIT.pool, [(f"member-{i}", 75) for i in range(4)])
    for label, amount in (("Paid", GROSS), ("Marketplace fee", SPLIT.fee),
                          ("To you", SPLIT.to_platform), ("To contributors", sum(SHARES600))):
        expect(shares.get_by_role("row").filter(has_text=label).first).to_contain_text(f"{usd(amount)} USD")
    journey.shot(page, "sale-split", main=True)
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Report").click()
    expect(page.get_by_role("heading", name=re.compile("report", re.I)).first).to_be_visible()
    expect(page.get_by_text(usd(SPLIT.to_platform)).first).to_be_visible()
    journey.shot(page, "report", main=True)

    set_payout_account(journey, page, "treasury@velocipede.example.test")

    # The marketplace pays out (its admin), and the platform sees its payout.
    admin_page = admin(journey)
    assert admin_pays_out(journey, admin_page, tmp_path) == 1  # the platform: its members have no account yet
    page.reload()
    payout = page.locator("[data-payout]")
    expect(payout).to_have_count(1)
    expect(payout).to_contain_text("paid")
    expect(payout).to_contain_text(f"{usd(SPLIT.to_platform)} USD")
    to_top(page, "#payouts-heading")
    journey.shot(page, "payout", main=True)


def test_buyer_journey(journey, tmp_path):
    platform = journey.page("platform", shots=False)
    slug = platform_publishes(journey, platform, tmp_path)

    page = journey.page("buyer")
    sign_up(journey, page, "buyer", "Orchard Models", "data@orchard.example.test")
    expect(page).to_have_url(re.compile("/datasets$"))

    # Search the catalog, read the dataset.
    page.get_by_role("searchbox", name="Search").fill("tandem restor")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("1 dataset matching “tandem restor”.")).to_be_visible()
    journey.shot(page, "search", main=True)
    page.get_by_role("link", name=DATASET["title"]).click()
    expect(page.get_by_role("heading", name=DATASET["title"], level=1)).to_be_visible()
    expect(page.get_by_role("region", name="Datasheet")).to_contain_text("Signatures and quoted replies are removed.")
    sample = page.get_by_role("region", name="Sample records")
    expect(sample.get_by_text(re.compile(r"^Tandem bicycle restoration notes")).first).to_be_visible()
    journey.shot(page, "dataset", main=True)
    rsl = page.get_by_role("link", name="RSL license.xml")
    croissant = page.get_by_role("link", name="Croissant croissant.json")
    for link, kind in ((rsl, "xml"), (croissant, "json")):  # what a crawler or a loader fetches
        answered = page.request.get(link.get_attribute("href"))
        assert answered.status == 200 and kind in answered.headers["content-type"], answered.headers
        if kind == "json":
            assert answered.json()["name"] == DATASET["title"]
        else:
            assert "<rsl" in answered.text()

    # Checkout with the test card; the license turns active on the page by itself.
    page.get_by_role("button", name=f"License under {DATASET['offer']}").click()
    expect(page.get_by_text("2,500.00 USD").first).to_be_visible()
    journey.shot(page, "checkout", main=True)
    page.get_by_role("button", name="Accept the terms and continue to payment").click()
    expect(page).to_have_url(re.compile(r"/licenses/\d+/pay$"))
    page.get_by_placeholder("number").fill("4242 4242 4242 4242")
    page.get_by_placeholder("exp_month").fill("12")
    page.get_by_placeholder("exp_year").fill("34")
    page.get_by_placeholder("cvc").fill("123")
    page.get_by_placeholder("postal_code").fill("42424")
    journey.shot(page, "card")
    page.get_by_role("button", name=re.compile("^Pay ")).click()
    expect(page).to_have_url(re.compile(r"/licenses/\d+$"))
    license_id = int(page.url.rsplit("/", 1)[1])
    # No reload by the buyer: the page polls its status block and refreshes itself once it is paid.
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "active", timeout=ACTIVATION_MS)
    expect(page.get_by_role("button", name="Download version 1.0.0")).to_be_visible()
    journey.shot(page, "license-active", main=True)

    # Download the export.
    export = buyer_downloads(page, tmp_path)
    lines = [json.loads(line) for line in export.read_bytes().splitlines()]
    assert sorted(line["external_id"] for line in lines if not line["external_id"].isdigit()) == sorted(
        f"post-{i}" for i in range(12))
    page.reload()
    expect(page.locator("#delivery").get_by_role("row")).to_have_count(2)  # the log: a header and one download
    journey.shot(page, "downloaded")

    # The platform takes a record down; the buyer sees the withdrawal and acknowledges deleting it.
    platform_takes_down(platform, slug, "post-5")
    buyer_acknowledges(journey, page, license_id, "post-5")


def test_contributor_journey(journey, tmp_path):
    platform = journey.page("platform", shots=False)
    slug = platform_publishes(journey, platform, tmp_path)
    code = platform_issues_a_code(journey, platform, "member-0")
    buyer = journey.page("buyer", shots=False)
    license_id = buyer_buys(journey, buyer, slug)
    buyer_downloads(buyer, tmp_path)

    # Claim: the account is created, the earnings from before the claim are there.
    page = journey.page("contributor")
    page.goto("/")
    page.get_by_role("link", name="Claim your earnings").click()
    page.get_by_label("Claim code").fill(code)
    page.get_by_label("E-mail").fill("tess@example.test")
    page.get_by_label("Password").fill(PASSWORD)
    journey.shot(page, "claim", main=True)
    page.get_by_role("button", name="Claim").click()
    expect(page).to_have_url(re.compile("/me/statement$"))
    expect(page.get_by_role("heading", name="Your statement")).to_be_visible()
    expect(page.locator("#statement-chart")).to_be_visible()  # Chart.js drew the months
    line = page.get_by_role("row").filter(has_text=DATASET["title"])
    expect(line).to_have_count(1)
    expect(line).to_contain_text(usd(SHARES[0]))
    to_top(page, "#by-month")
    chart_drawn(page, "statement-chart")
    journey.shot(page, "statement", main=True)

    # A line leads to the ledger entries behind it.
    line.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/me/ledger/\d+$"))
    expect(page.get_by_text(usd(SHARES[0])).first).to_be_visible()
    journey.shot(page, "ledger-line", main=True)

    # Withdraw training use of this dataset.
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Consent").click()
    page.get_by_label("For", exact=True).select_option(label=DATASET["title"])
    page.get_by_label("Use", exact=True).select_option(value="ai-train")
    page.get_by_label("Withdraw", exact=True).check()
    journey.shot(page, "consent")
    page.get_by_role("button", name="Save decision").click()
    expect(page.get_by_role("row").filter(has_text="withdrawn").first).to_be_visible()
    deletions = page.get_by_role("region", name="Buyers told to delete your records")
    expect(deletions.locator("[data-acknowledged]")).to_have_attribute("data-acknowledged", "no")
    to_top(page, "#standing")
    journey.shot(page, "withdrawn", main=True)

    # The buyer deletes the records and says so; the contributor sees it.
    buyer_acknowledges(journey, buyer, license_id, "post-0")
    page.reload()
    expect(deletions.locator("[data-acknowledged]")).to_have_attribute("data-acknowledged", "yes")
    to_top(page, "#deletions")
    journey.shot(page, "acknowledged", main=True)

    # A payout account, then the payout arrives.
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Statement").click()
    set_payout_account(journey, page, "tess@example.test")
    admin_page = admin(journey)
    assert admin_pays_out(journey, admin_page, tmp_path) == 1  # Tess; the platform has no account
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Statement").click()
    payout = page.locator("[data-payout]")
    expect(payout).to_contain_text("paid")
    expect(payout).to_contain_text(f"{usd(SHARES[0])} USD")
    to_top(page, "#payouts-heading")
    journey.shot(page, "payout", main=True)


def test_admin_journey(journey, tmp_path):
    platform = journey.page("platform", shots=False)
    slug = platform_publishes(journey, platform, tmp_path)
    buyer = journey.page("buyer", shots=False)
    license_id = buyer_buys(journey, buyer, slug)
    platform.goto("/platform/report")
    set_payout_account(journey, platform, "treasury@velocipede.example.test")

    page = admin(journey, shots=True)
    expect(page).to_have_url(re.compile("/admin/ledger$"))
    expect(page.get_by_text("Never run.")).to_be_visible()
    page.get_by_role("button", name="Run the check now").click()
    expect(page.get_by_text("Balanced: every invariant holds.")).to_be_visible()
    journey.shot(page, "ledger-check", main=True)

    # Refund 500.00 of the 2,500.00, confirming first.
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Licenses").click()
    page.get_by_label(f"Refund amount for license {license_id}, in USD").fill("500.00")
    journey.shot(page, "licenses")
    page.get_by_role("button", name="Refund…").click()
    expect(page.get_by_role("heading", name="Refund 500.00 USD?")).to_be_visible()
    journey.shot(page, "refund-confirm", main=True)
    page.get_by_role("button", name="Refund 500.00 USD").click()
    expect(page.get_by_role("status").first).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Orchard Models")
    expect(row).to_contain_text("500.00 USD")
    journey.shot(page, "refunded")
    left = split(GROSS - 50_000, 500, 5000)

    # The payout run, its batch file to the processor, the results back, then reconciliation.
    assert admin_pays_out(journey, page, tmp_path) == 1  # the platform; its members have no account
    expect(page.locator("[data-run='1']")).to_contain_text(f"{usd(left.to_platform)} USD")
    page.get_by_role("link", name="Reconcile the ledger's payouts with the processors").click()
    expect(page.locator("[data-reconciled]")).to_have_attribute("data-reconciled", "clean")
    expect(page.get_by_text("1 payout matches.")).to_be_visible()
    journey.shot(page, "reconciled", main=True)
