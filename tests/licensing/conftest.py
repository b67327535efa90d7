"""Licensing tests talk to the session's localstripe (tests/conftest.py)."""
from __future__ import annotations

import pytest

from marketplace.payments.gateway import StripeGateway


@pytest.fixture
def stripe_gateway(app, localstripe_url):
    """Point the app's payments at the test localstripe for this test."""
    gateway = StripeGateway(app.config["STRIPE_SECRET_KEY"], localstripe_url)
    app.extensions["payment_gateway"] = gateway
    yield gateway
    app.extensions.pop("payment_gateway", None)


def card_token(gateway: StripeGateway, number: str = "4242424242424242") -> str:
    token = gateway.client.v1.tokens.create(
        params={"card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    return token.id


