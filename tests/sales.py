"""Selling licenses in tests without a browser: buy through the API (the PaymentIntent is made on
the session's localstripe, so use the `stripe_gateway` fixture), then deliver the signed
`payment_intent.succeeded` as Stripe would. With JOBS=immediate the license is active and its
payment allocated when `sell` returns."""
from __future__ import annotations

import itertools

from tests.licensing import helpers

_charges = itertools.count(1)


def sell(client, app, buyer: dict, offer_id: int) -> dict:
    """A paid, active license for `buyer` (a signup() result): the API's license JSON."""
    bought = helpers.buy(client, buyer, offer_id)
    assert bought.status_code == 201, bought.get_json()
    license = bought.get_json()
    charge = f"ch_test_sale_{next(_charges)}"
    delivered = helpers.post_event(client, app, helpers.succeeded(license, charge))
    assert delivered.status_code == 200, delivered.get_json()
    paid = helpers.get(client, buyer, license["id"])
    assert paid["status"] == "active", paid
    return {**paid, "charge_id": charge, "payment": license["payment"]}


def refund(client, app, license: dict, amount_refunded: int) -> None:
    """Stripe's `charge.refunded` for `license` (from `sell`), cumulative amount."""
    response = helpers.post_event(client, app, helpers.refunded(license, license["charge_id"], amount_refunded))
    assert response.status_code == 200, response.get_json()
