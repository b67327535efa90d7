"""`POST /api/v1/licenses/{id}/renewals` refuses what can't be renewed (409) and opens no payment."""
from __future__ import annotations

import pytest

from tests.asserts import assert_error
from tests.licensing.helpers import event, get, pay, succeeded
from tests.payments.helpers import (
    PRICE,
    bought,
    deliver,
    let_pay_by_pass,
    offer,
    paid_license,
    payments_of,
    refund_by_admin,
)

NOT_RENEWABLE = "Only an annual license that is active or expired can be renewed."


def renew(client, buyer, license_id: int):
    return client.post(f"/api/v1/licenses/{license_id}/renewals", headers=buyer["headers"])


@pytest.fixture
def annual(client, platform) -> int:
    return offer(client, platform, billing="annual")


def test_a_one_time_license_is_not_renewed(client, app, buyer, offer_id, stripe_gateway):
    license = paid_license(client, app, stripe_gateway, buyer, offer_id)
    assert_error(renew(client, buyer, license["id"]), 409, NOT_RENEWABLE)
    assert [p.purpose for p in payments_of(license["id"])] == ["initial"]


def test_a_pending_or_canceled_annual_license_is_not_renewed(client, buyer, annual, stripe_gateway):
    license = bought(client, buyer, annual)
    assert_error(renew(client, buyer, license["id"]), 409, NOT_RENEWABLE)
    let_pay_by_pass(license["id"])
    assert_error(renew(client, buyer, license["id"]), 409, NOT_RENEWABLE)
    assert [p.purpose for p in payments_of(license["id"])] == ["initial"]


def test_a_refunded_annual_license_is_not_renewed(client, app, buyer, annual, stripe_gateway, admin):
    license = paid_license(client, app, stripe_gateway, buyer, annual)
    assert refund_by_admin(client, admin, license["id"], PRICE).status_code == 201
    assert_error(renew(client, buyer, license["id"]), 409, NOT_RENEWABLE)
    assert [p.purpose for p in payments_of(license["id"])] == ["initial"]


def test_one_renewal_open_at_a_time_even_after_its_card_was_declined(client, app, buyer, annual, stripe_gateway):
    license = paid_license(client, app, stripe_gateway, buyer, annual)
    opened = renew(client, buyer, license["id"])
    assert opened.status_code == 201, opened.get_json()
    renewal = opened.get_json()
    assert_error(renew(client, buyer, license["id"]), 409, "already open")
    # A declined card leaves the renewal open for another card: still one at a time.
    intent = renewal["payment"]["payment_intent_id"]
    deliver(client, app, event("payment_intent.payment_failed", {
        "id": intent, "object": "payment_intent", "last_payment_error": {"message": "Your card was declined."}}))
    assert [(p.purpose, p.status) for p in payments_of(license["id"])] == [
        ("initial", "succeeded"), ("renewal", "failed")]
    assert_error(renew(client, buyer, license["id"]), 409, "already open")
    assert len(payments_of(license["id"])) == 2
    # Once it is paid, the next renewal may open.
    deliver(client, app, succeeded(renewal, pay(stripe_gateway, renewal)))
    assert get(client, buyer, license["id"])["split"]["paid"]["amount"] == 2 * PRICE
    assert renew(client, buyer, license["id"]).status_code == 201
    assert [p.purpose for p in payments_of(license["id"])] == ["initial", "renewal", "renewal"]


def test_no_second_renewal_while_the_first_ones_card_is_being_confirmed(client, app, buyer, annual, stripe_gateway):
    """The card was accepted (processing) and its event has not arrived: a retried renewal call
    would take the money twice, so it is refused until the first is settled."""
    from marketplace.extensions import db
    from marketplace.licensing import services
    from marketplace.licensing.models import License
    from tests.conftest import card_token

    license = paid_license(client, app, stripe_gateway, buyer, annual)
    renewal = renew(client, buyer, license["id"]).get_json()
    services.pay_by_card(db.session, db.session.get(License, license["id"]), card_token(stripe_gateway))
    db.session.commit()
    assert [(p.purpose, p.status) for p in payments_of(license["id"])] == [
        ("initial", "succeeded"), ("renewal", "processing")]
    assert_error(renew(client, buyer, license["id"]), 409, "being confirmed")
    assert len(payments_of(license["id"])) == 2
    deliver(client, app, succeeded(renewal, "ch_renewal_confirmed"))
    assert renew(client, buyer, license["id"]).status_code == 201
