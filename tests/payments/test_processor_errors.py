"""The processor refuses or fails (GatewayError): the call answers 502 and nothing is written."""
from __future__ import annotations

from marketplace.licensing.models import License
from marketplace.payments.models import Payment, Refund
from tests.asserts import assert_error
from tests.licensing.helpers import buy, get, pay, succeeded
from tests.payments.helpers import (
    PRICE,
    bought,
    count,
    deliver,
    entries,
    expected_split,
    ledger_size,
    let_pay_by_pass,
    offer,
    paid_license,
    payments_of,
    refund_by_admin,
    split_of,
)


def test_creating_a_license_the_processor_refuses_is_502_and_leaves_no_rows(
        client, buyer, offer_id, refuse):
    processor = refuse("create_intent")
    before = count(License), count(Payment)
    assert_error(buy(client, buyer, offer_id, key="order-1"), 502, "payment processor")
    assert processor.calls == ["create_intent"]
    assert (count(License), count(Payment)) == before == (0, 0)
    assert client.get("/api/v1/licenses", headers=buyer["headers"]).get_json()["total"] == 0
    # Once the processor is back, the same Idempotency-Key makes the license (nothing half-made blocks it).
    processor.refused.clear()
    again = buy(client, buyer, offer_id, key="order-1")
    assert again.status_code == 201, again.get_json()
    assert (count(License), count(Payment)) == (1, 1)


def test_an_admin_refund_the_processor_refuses_is_502_and_writes_nothing(
        client, app, buyer, offer_id, stripe_gateway, admin, refuse):
    license = paid_license(client, app, stripe_gateway, buyer, offer_id)
    size = ledger_size()
    processor = refuse("refund")
    assert_error(refund_by_admin(client, admin, license["id"], 40_000), 502, "payment processor", "refund")
    assert processor.calls == ["refund"]
    assert count(Refund) == 0
    assert ledger_size() == size
    assert payments_of(license["id"])[0].refunded_amount == 0
    assert get(client, buyer, license["id"])["status"] == "active"
    assert split_of(client, buyer, license["id"]) == expected_split(0)
    # Back up: the same refund goes through, once.
    processor.refused.clear()
    assert refund_by_admin(client, admin, license["id"], 40_000).status_code == 201
    assert count(Refund) == 1
    assert split_of(client, buyer, license["id"]) == expected_split(40_000)


def test_a_renewal_the_processor_refuses_is_502_and_opens_no_payment(
        client, app, platform, buyer, stripe_gateway, refuse):
    license = paid_license(client, app, stripe_gateway, buyer, offer(client, platform, billing="annual"))
    refuse("create_intent")
    assert_error(client.post(f"/api/v1/licenses/{license['id']}/renewals", headers=buyer["headers"]),
                 502, "payment processor")
    assert [p.purpose for p in payments_of(license["id"])] == ["initial"]
    assert get(client, buyer, license["id"])["payment"] is None
    assert split_of(client, buyer, license["id"])["paid"] == PRICE


def test_an_automatic_refund_the_processor_refuses_books_nothing_until_settling_again(
        client, app, buyer, offer_id, stripe_gateway, refuse):
    license = bought(client, buyer, offer_id)
    charge = pay(stripe_gateway, license)
    let_pay_by_pass(license["id"])
    processor = refuse("refund")
    # The event is taken (the settlement is a job after the answer); the job fails and rolls back.
    assert deliver(client, app, succeeded(license, charge)) == {"received": True, "duplicate": False}
    assert processor.calls == ["refund"]
    assert count(Refund) == 0 and ledger_size() == (0, 0)
    [payment] = payments_of(license["id"])
    assert (payment.status, payment.refunded_amount) == ("succeeded", 0)
    # Settling again once the processor is back gives the payment back, once.
    processor.refused.clear()
    deliver(client, app, succeeded(license, charge))
    assert processor.calls == ["refund", "refund"]
    assert count(Refund) == 1 and payments_of(license["id"])[0].refunded_amount == PRICE
    intent = license["payment"]["payment_intent_id"]
    assert entries(f"unhonoured:{intent}") == {"payment_clearing": -PRICE, "refunds_disputes": PRICE}
    assert ledger_size() == (1, 2)
