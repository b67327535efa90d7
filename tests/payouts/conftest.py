from __future__ import annotations

import pytest

from marketplace.payments.gateway import StripeGateway
from tests.payouts.fake_stripe import FakeConnect


@pytest.fixture
def connect(app):
    """The app's gateway talks Connect to a FakeConnect (nothing else is forwarded); yields the fake."""
    fake = FakeConnect(forward_to_localstripe=False)
    gateway = StripeGateway(app.config["STRIPE_SECRET_KEY"], "https://api.stripe.test", http_client=fake,
                            max_network_retries=0)
    built = app.extensions["payment_gateway"]
    app.extensions["payment_gateway"] = gateway
    fake.gateway = gateway
    yield fake
    app.extensions["payment_gateway"] = built
