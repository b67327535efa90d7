"""Disputes by recomputation: an open dispute holds its amount back (every share is the rule at
gross − disputed), a won one gives it back, a lost one keeps it away for good, and a closed
dispute never reopens."""
from __future__ import annotations

from marketplace.extensions import db
from marketplace.payments.models import Dispute
from tests.licensing.helpers import event, get, refunded
from tests.payments.helpers import (
    PRICE,
    balances,
    contributor_balances,
    deliver,
    expected_split,
    ledger_size,
    paid_license,
    payments_of,
    split_of,
)

#: The split of the whole payment: fee 5000, net 95000, pool 47500 (u0..u2 weigh 2, u3..u6 weigh 1).
WHOLE = [9500, 9500, 9500, 4750, 4750, 4750, 4750]


def dispute(client, app, license: dict, kind: str, status: str, amount: int, dispute_id: str = "dp_1") -> dict:
    """Stripe's dispute event; it names the charge only (no PaymentIntent), as a dispute object may."""
    body = {"id": dispute_id, "object": "dispute", "charge": license["charge_id"], "amount": amount,
            "status": status}
    return deliver(client, app, event(f"charge.dispute.{kind}", body))


def dispute_status(dispute_id: str = "dp_1") -> str:
    db.session.expire_all()
    return db.session.query(Dispute).filter_by(dispute_id=dispute_id).one().status


def test_an_open_dispute_holds_its_amount_and_a_lost_one_keeps_it(client, app, buyer, offer_id, stripe_gateway):
    license = paid_license(client, app, stripe_gateway, buyer, offer_id)
    assert contributor_balances() == WHOLE
    dispute(client, app, license, "created", "needs_response", 36_667)
    # 100000 − 36667 = 63333: fee floor(3166.65) = 3166, net 60167, pool floor(30083.5) = 30083,
    # platform 30084; the pool by weight: 6016.6 ×3 and 3008.3 ×4, the 3 cents left to the .6s.
    held = {"paid": PRICE, "refunded": 36_667, "marketplace_fee": 3166, "to_platform": 30084,
            "to_contributors": 30083, "unallocated": 0, "contributors_paid": 7}
    assert held == expected_split(36_667)
    assert split_of(client, buyer, license["id"]) == held
    assert contributor_balances() == [6017, 6017, 6017, 3008, 3008, 3008, 3008]
    assert balances()["refunds_disputes"] == 36_667
    assert get(client, buyer, license["id"])["status"] == "active"
    entries = ledger_size()[1]

    dispute(client, app, license, "updated", "under_review", 36_667)
    dispute(client, app, license, "closed", "lost", 36_667)
    assert dispute_status() == "lost"
    assert split_of(client, buyer, license["id"]) == held
    assert ledger_size()[1] == entries
    # A late "created" for the closed dispute reopens nothing.
    dispute(client, app, license, "created", "needs_response", 36_667)
    assert dispute_status() == "lost"
    assert payments_of(license["id"])[0].disputed_amount == 36_667
    assert split_of(client, buyer, license["id"]) == held
    assert ledger_size()[1] == entries
    # What the lost dispute took counts with refunds: refunding the rest leaves nothing.
    deliver(client, app, refunded(license, license["charge_id"], PRICE - 36_667))
    assert get(client, buyer, license["id"])["status"] == "refunded"
    assert split_of(client, buyer, license["id"]) == expected_split(PRICE)
    assert set(contributor_balances()) == {0}


def test_a_dispute_of_the_whole_payment_refunds_the_license_until_it_is_won(
        client, app, buyer, offer_id, stripe_gateway, admin):
    license = paid_license(client, app, stripe_gateway, buyer, offer_id)
    dispute(client, app, license, "created", "needs_response", PRICE)
    assert get(client, buyer, license["id"])["status"] == "refunded"
    assert split_of(client, buyer, license["id"]) == {
        "paid": PRICE, "refunded": PRICE, "marketplace_fee": 0, "to_platform": 0, "to_contributors": 0,
        "unallocated": 0, "contributors_paid": 0}
    assert set(contributor_balances()) == {0}

    dispute(client, app, license, "closed", "won", PRICE)
    assert get(client, buyer, license["id"])["status"] == "active"
    assert split_of(client, buyer, license["id"]) == {
        "paid": PRICE, "refunded": 0, "marketplace_fee": 5000, "to_platform": 47500, "to_contributors": 47500,
        "unallocated": 0, "contributors_paid": 7}
    assert contributor_balances() == WHOLE
    assert balances()["refunds_disputes"] == 0
    size = ledger_size()
    # A late "created" after the win holds nothing back again.
    dispute(client, app, license, "created", "needs_response", PRICE)
    assert dispute_status() == "won"
    assert get(client, buyer, license["id"])["status"] == "active"
    assert split_of(client, buyer, license["id"]) == expected_split(0)
    assert ledger_size() == size
    assert client.get("/api/v1/admin/ledger/check", headers=admin).get_json()["balanced"] is True


def test_a_dispute_and_a_refund_are_held_back_together(client, app, buyer, offer_id, stripe_gateway):
    license = paid_license(client, app, stripe_gateway, buyer, offer_id)
    deliver(client, app, refunded(license, license["charge_id"], 30_000))
    dispute(client, app, license, "created", "warning_needs_response", 70_000)
    assert get(client, buyer, license["id"])["status"] == "refunded"
    assert split_of(client, buyer, license["id"]) == expected_split(PRICE)
    dispute(client, app, license, "closed", "won", 70_000)
    # Only the refund is left: 70000 → fee 3500, net 66500, pool 33250, platform 33250.
    assert get(client, buyer, license["id"])["status"] == "active"
    assert split_of(client, buyer, license["id"]) == {
        "paid": PRICE, "refunded": 30_000, "marketplace_fee": 3500, "to_platform": 33250,
        "to_contributors": 33250, "unallocated": 0, "contributors_paid": 7}
    assert contributor_balances() == [6650, 6650, 6650, 3325, 3325, 3325, 3325]


def test_two_disputes_on_one_payment_add_up(client, app, buyer, offer_id, stripe_gateway):
    license = paid_license(client, app, stripe_gateway, buyer, offer_id)
    dispute(client, app, license, "created", "needs_response", 20_000, dispute_id="dp_a")
    dispute(client, app, license, "created", "needs_response", 15_000, dispute_id="dp_b")
    assert split_of(client, buyer, license["id"]) == expected_split(35_000)
    dispute(client, app, license, "closed", "won", 20_000, dispute_id="dp_a")
    assert split_of(client, buyer, license["id"]) == expected_split(15_000)
    dispute(client, app, license, "closed", "lost", 15_000, dispute_id="dp_b")
    # 85000: fee 4250, net 80750, pool 40375, platform 40375.
    assert split_of(client, buyer, license["id"]) == {
        "paid": PRICE, "refunded": 15_000, "marketplace_fee": 4250, "to_platform": 40375,
        "to_contributors": 40375, "unallocated": 0, "contributors_paid": 7}
