"""Settling a succeeded payment we can't honour: it is refunded in full through the processor,
booked in and out of the ledger (payment clearing −G, refunds and disputes +G), and never allocated."""
from __future__ import annotations

from marketplace.extensions import db
from marketplace.licensing.models import License
from tests import factories
from tests.licensing.helpers import get, pay, succeeded
from tests.payments.helpers import (
    PRICE,
    SHARES,
    bought,
    deliver,
    entries,
    expected_split,
    ledger_size,
    let_pay_by_pass,
    offer,
    paid_license,
    payments_of,
    refund_by_admin,
    refunds_of,
    split_of,
    transaction,
)


def assert_given_back(stripe_gateway, license: dict, reason: str, *, intent: str | None = None) -> None:
    """The payment came back in full with `reason`, in and out of the ledger, and was not allocated."""
    intent = intent or license["payment"]["payment_intent_id"]
    payment = next(p for p in payments_of(license["id"]) if p.payment_intent_id == intent)
    [refund] = [r for r in refunds_of(license["id"]) if r.payment_id == payment.id]
    assert (refund.amount, refund.reason, refund.requested_by) == (PRICE, f"automatic: {reason}", None)
    assert (payment.status, payment.refunded_amount) == ("succeeded", PRICE)
    assert stripe_gateway.client.v1.refunds.retrieve(refund.refund_id).amount == PRICE  # the processor's
    booked = transaction(f"unhonoured:{intent}")
    assert booked.kind == "unhonoured_payment"
    assert booked.memo == {"why": reason, "license_id": license["id"]}
    assert entries(f"unhonoured:{intent}") == {"payment_clearing": -PRICE, "refunds_disputes": PRICE}
    assert transaction(f"payment:{intent}") is None  # no allocation


def test_a_payment_after_the_deadline_is_refunded_in_full_and_never_allocated(
        client, app, buyer, offer_id, stripe_gateway):
    license = bought(client, buyer, offer_id)
    charge = pay(stripe_gateway, license)
    let_pay_by_pass(license["id"])
    assert ledger_size() == (0, 0)
    deliver(client, app, succeeded(license, charge))
    assert get(client, buyer, license["id"])["status"] == "canceled"
    assert db.session.get(License, license["id"]).status == "canceled"  # saved by the settlement
    assert split_of(client, buyer, license["id"]) is None
    assert_given_back(stripe_gateway, license, "the license is canceled")
    assert ledger_size() == (1, 2)
    # The same success again, under a new event id: no second refund, nothing booked twice.
    deliver(client, app, succeeded(license, charge))
    assert len(refunds_of(license["id"])) == 1
    assert ledger_size() == (1, 2)


def test_a_late_payment_for_an_exclusive_offer_another_buyer_took_is_refunded(
        client, app, platform, buyer, stripe_gateway, admin):
    exclusive = offer(client, platform, exclusive=True)
    late = bought(client, buyer, exclusive)
    charge = pay(stripe_gateway, late)
    let_pay_by_pass(late["id"])
    # The offer is free again, and another buyer takes it and pays in time.
    rival = factories.signup(client, "buyer", "Rival Lab")
    holder = paid_license(client, app, stripe_gateway, rival, exclusive)
    before = ledger_size()
    deliver(client, app, succeeded(late, charge))
    assert get(client, buyer, late["id"])["status"] == "canceled"
    assert get(client, rival, holder["id"])["status"] == "active"
    assert_given_back(stripe_gateway, late, "a conflicting license holds the offer")
    assert ledger_size() == (before[0] + 1, before[1] + 2)
    assert split_of(client, rival, holder["id"]) == expected_split(0)
    assert client.get("/api/v1/admin/ledger/check", headers=admin).get_json()["balanced"] is True


def test_a_renewal_paid_after_the_license_was_refunded_is_given_back(
        client, app, platform, buyer, stripe_gateway, admin):
    annual = offer(client, platform, billing="annual")
    license = paid_license(client, app, stripe_gateway, buyer, annual)
    opened = client.post(f"/api/v1/licenses/{license['id']}/renewals", headers=buyer["headers"])
    assert opened.status_code == 201, opened.get_json()
    renewal = opened.get_json()
    assert renewal["payment"]["purpose"] == "renewal"
    charge = pay(stripe_gateway, renewal)
    # Meanwhile the first payment is refunded in full: the license is `refunded`, neither active nor expired.
    assert refund_by_admin(client, admin, license["id"], PRICE).status_code == 201
    assert get(client, buyer, license["id"])["status"] == "refunded"
    before = ledger_size()
    deliver(client, app, succeeded(renewal, charge))
    intent = renewal["payment"]["payment_intent_id"]
    assert intent != license["payment"]["payment_intent_id"]
    assert_given_back(stripe_gateway, license, "the license is refunded", intent=intent)
    assert ledger_size() == (before[0] + 1, before[1] + 2)
    after = get(client, buyer, license["id"])
    assert (after["status"], after["period_end"]) == ("refunded", license["period_end"])  # not renewed
    shares = split_of(client, buyer, license["id"])
    assert {name: shares[name] for name in ("paid", *SHARES)} == {  # the first payment, all returned
        "paid": PRICE, "marketplace_fee": 0, "to_platform": 0, "to_contributors": 0, "unallocated": 0}
    assert client.get("/api/v1/admin/ledger/check", headers=admin).get_json()["balanced"] is True


def test_a_given_back_renewal_is_not_counted_as_refunded_in_the_split(
        client, app, platform, buyer, stripe_gateway, admin):
    """API.md: the four shares sum to paid − refunded. A renewal refunded as unhonoured was never
    paid into the split, so it can't be refunded out of it."""
    license = paid_license(client, app, stripe_gateway, buyer, offer(client, platform, billing="annual"))
    renewal = client.post(f"/api/v1/licenses/{license['id']}/renewals", headers=buyer["headers"]).get_json()
    charge = pay(stripe_gateway, renewal)
    assert refund_by_admin(client, admin, license["id"], PRICE).status_code == 201
    deliver(client, app, succeeded(renewal, charge))
    shares = split_of(client, buyer, license["id"])
    assert sum(shares[name] for name in SHARES) == shares["paid"] - shares["refunded"]
    assert shares == expected_split(PRICE)
