"""The buyer's checkout in the browser, as a person does it: License → accept the terms → the card."""
from __future__ import annotations

import re

from playwright.sync_api import expect


def license_and_pay(page, slug: str, offer_name: str = "Training", card: str = "4242424242424242") -> None:
    """From the dataset page to the license page right after the card is accepted."""
    page.goto(f"/datasets/{slug}")
    page.get_by_role("button", name=f"License under {offer_name}").click()
    page.get_by_role("button", name="Accept the terms and continue to payment").click()
    expect(page).to_have_url(re.compile(r"/licenses/\d+/pay$"))
    page.get_by_placeholder("number").fill(card)
    page.get_by_placeholder("exp_month").fill("12")
    page.get_by_placeholder("exp_year").fill("34")
    page.get_by_placeholder("cvc").fill("123")
    page.get_by_placeholder("postal_code").fill("42424")
    page.get_by_role("button", name=re.compile("^Pay ")).click()
    expect(page).to_have_url(re.compile(r"/licenses/\d+$"))
