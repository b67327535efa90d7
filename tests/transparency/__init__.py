"""Transparency tests: shared sales on tests/consent/helpers.py's dataset of known people.

By SPEC.md's money rules with MARKETPLACE_FEE_BPS 500 and the offers' 5000 bps contributor share,
a flat 100_000 payment splits into fee 5_000, platform 47_500 and a pool of 47_500. On an opt-out
dataset only ana (US, 3 records) and cy (US, 1 record) are eligible (bo and dee live in opt-in
regions and granted nothing), so the pool goes 35_625 / 11_875. A refund of 30_000 recomputes the
payment at 70_000: fee 3_500, platform 33_250, pool 33_250 = ana 24_937.5 and cy 8_312.5, whose
equal remainders break by external id, so ana 24_938 and cy 8_312.
"""
from __future__ import annotations

from tests.consent.helpers import listed
from tests.sales import refund, sell

#: The figures of `two_sales_one_refund`, worked out by hand above.
PAID, REFUNDED = 200_000, 30_000
FEES = 5_000 + 3_500
TO_PLATFORM = 47_500 + 33_250
TO_CONTRIBUTORS = 47_500 + 33_250
ANA, CY = 35_625 + 24_938, 11_875 + 8_312


def two_sales_one_refund(client, app, platform: dict, buyer: dict) -> dict:
    """listed()'s dataset sold once for ai-train and once for ai-input, the second refunded 30_000."""
    dataset = listed(client, platform)
    sell(client, app, buyer, dataset["offers"][("ai-train",)])
    second = sell(client, app, buyer, dataset["offers"][("ai-input",)])
    refund(client, app, second, REFUNDED)
    return dataset


def money(amount: int) -> dict:
    return {"amount": amount, "currency": "usd"}
