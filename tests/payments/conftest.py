"""Payments tests: localstripe for real charges and refunds, a processor that refuses on demand,
an admin's key, and one published offer."""
from __future__ import annotations

import pytest

from tests.licensing.helpers import admin_headers
from tests.payments.helpers import RefusingGateway, offer


@pytest.fixture
def admin(runner) -> dict:
    return admin_headers(runner)


@pytest.fixture
def offer_id(client, platform) -> int:
    """A one-time, non-exclusive offer at PRICE on u0..u6's ten records."""
    return offer(client, platform)


@pytest.fixture
def refuse(app, stripe_gateway):
    """`refuse("refund", …)` installs a processor that refuses those calls (GatewayError)."""

    def install(*calls: str) -> RefusingGateway:
        gateway = RefusingGateway(stripe_gateway, calls)
        app.extensions["payment_gateway"] = gateway
        return gateway

    yield install
    app.extensions["payment_gateway"] = stripe_gateway  # stripe_gateway's own teardown runs next
