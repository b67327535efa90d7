"""Prices the card processor can't take in one payment are refused at the offer (API and form),
not at checkout: Stripe's amounts have at most eight digits (99,999,999 minor units, $999,999.99)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.licensing.models import License
from marketplace.payments.models import Payment
from tests import factories
from tests.asserts import assert_error, field_messages
from tests.catalog.test_pages import text_of
from tests.licensing.helpers import buy

CEILING = 99_999_999


@pytest.fixture
def slug(client, platform):
    return factories.create_dataset(client, platform, slug="forum-2024")["slug"]


def post_offer(client, platform, slug, **overrides):
    return client.post(f"/api/v1/datasets/{slug}/offers", json=factories.offer_body(**overrides),
                       headers=platform["headers"])


def offers_of(client, platform, slug) -> list[dict]:
    return client.get(f"/api/v1/datasets/{slug}", headers=platform["headers"]).get_json()["offers"]


def freeze(client, platform, slug, records: list[dict]) -> None:
    factories.import_records(client, platform, slug, records)
    assert client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=platform["headers"]).status_code == 201


def test_a_flat_price_above_the_processors_maximum_is_a_422_naming_the_price(client, platform, slug):
    body = assert_error(post_offer(client, platform, slug, price={"model": "flat", "amount": CEILING + 1,
                                                                   "currency": "usd"}), 422, "price.amount")
    assert field_messages(body, "price.amount") == [
        "Must be between 1 and 99999999 minor units: the card processor takes at most 99999999 in one payment."]
    assert offers_of(client, platform, slug) == []
    made = post_offer(client, platform, slug, price={"model": "flat", "amount": CEILING, "currency": "usd"})
    assert made.status_code == 201 and made.get_json()["price"]["amount"] == CEILING


def test_a_unit_price_that_prices_the_latest_version_above_the_maximum_is_refused(client, platform, slug):
    # 10 records of 10,000,000 tokens: 100,000,000 tokens, so 1,000,000 per 1M tokens costs 100,000,000.
    freeze(client, platform, slug, [factories.record(i, tokens=10_000_000) for i in range(10)])
    body = assert_error(post_offer(client, platform, slug, price={"model": "per_1m_tokens", "amount": 1_000_000,
                                                                   "currency": "usd"}), 422, "price.amount")
    assert field_messages(body, "price.amount") == [
        "On version 1.0.0 (10 records, 100,000,000 tokens) a license would cost 1,000,000.00 USD, above the "
        "999,999.99 USD the card processor takes at most in one payment. Lower the price."]
    assert offers_of(client, platform, slug) == []
    made = post_offer(client, platform, slug, price={"model": "per_1m_tokens", "amount": 999_999, "currency": "usd"})
    assert made.status_code == 201 and made.get_json()["quote"] == {"amount": 99_999_900, "currency": "usd"}


def test_a_lower_ceiling_can_be_configured(app, client, platform, slug):
    ceiling = app.config["MAX_CHARGE"]
    app.config["MAX_CHARGE"] = 1_000_000
    try:
        body = assert_error(post_offer(client, platform, slug, price={"model": "flat", "amount": 1_000_001,
                                                                       "currency": "usd"}), 422, "price.amount")
        assert field_messages(body, "price.amount") == [
            "Must be between 1 and 1000000 minor units: this marketplace takes at most 1000000 in one payment."]
        assert post_offer(client, platform, slug, price={"model": "flat", "amount": 1_000_000,
                                                         "currency": "usd"}).status_code == 201
    finally:
        app.config["MAX_CHARGE"] = ceiling


def test_the_offer_form_refuses_a_price_above_the_maximum_in_currency(client, platform, slug):
    factories.login(client, platform)
    data = {"name": "Too dear", "scopes": ["ai-train"], "term_months": "12", "territory": "*",
            "billing": "one_time", "price_model": "flat", "price_amount": "1,000,000.00",
            "contributor_share_percent": "50", "currency": "usd"}
    response = client.post(f"/platform/datasets/{slug}/offers", data=data)
    assert response.status_code == 422
    assert "At most 999,999.99 USD: the card processor takes no more in one payment." in text_of(response)
    assert offers_of(client, platform, slug) == []
    assert client.post(f"/platform/datasets/{slug}/offers",
                       data={**data, "price_amount": "999,999.99"}).status_code == 302


def test_a_version_that_pushes_a_unit_price_past_the_maximum_is_refused_at_checkout_without_a_payment(
        client, platform, buyer, slug, stripe_gateway):
    freeze(client, platform, slug, [factories.record(i, tokens=1_000_000) for i in range(10)])
    made = post_offer(client, platform, slug, price={"model": "per_1m_tokens", "amount": 9_000_000, "currency": "usd"})
    assert made.status_code == 201 and made.get_json()["quote"]["amount"] == 90_000_000
    assert client.post(f"/api/v1/datasets/{slug}/publish", headers=platform["headers"]).status_code == 200
    freeze(client, platform, slug, [factories.record(i, tokens=1_000_000) for i in range(10, 12)])
    refused = assert_error(buy(client, buyer, made.get_json()["id"]), 409)
    assert refused["message"] == (
        "This offer can't be paid by card now: on the latest version a license costs 1,080,000.00 USD, above "
        "the 999,999.99 USD the card processor takes at most in one payment. The platform has to offer it at "
        "a lower price.")
    assert db.session.scalar(select(func.count()).select_from(License)) == 0
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0
