"""`POST /api/v1/admin/licenses/{id}/refunds`: the bounds of an amount, and partial refunds that
reverse by the rule until every share is zero."""
from __future__ import annotations

import pytest

from marketplace.payments.models import Refund
from tests.asserts import assert_error, field_messages
from tests.licensing.helpers import get, pay
from tests.payments.helpers import (
    PRICE,
    balances,
    bought,
    contributor_balances,
    count,
    entries,
    expected_split,
    largest_remainder,
    ledger_size,
    paid_license,
    payments_of,
    refund_by_admin,
    refunds_of,
    split_of,
)


@pytest.mark.parametrize("amount", [0, -1, -50_000, PRICE + 1])
def test_an_amount_out_of_bounds_is_422_naming_amount_and_writes_nothing(
        client, app, buyer, offer_id, stripe_gateway, admin, amount):
    license = paid_license(client, app, stripe_gateway, buyer, offer_id)
    size, split = ledger_size(), split_of(client, buyer, license["id"])
    body = assert_error(refund_by_admin(client, admin, license["id"], amount), 422)
    assert field_messages(body, "amount")
    assert count(Refund) == 0
    assert payments_of(license["id"])[0].refunded_amount == 0
    assert ledger_size() == size
    assert split_of(client, buyer, license["id"]) == split == expected_split(0)


def test_a_license_with_no_succeeded_payment_is_409(client, app, buyer, offer_id, stripe_gateway, admin):
    license = bought(client, buyer, offer_id)
    assert_error(refund_by_admin(client, admin, license["id"], 1), 409, "no payment")
    # Charged at the processor, but its success not yet known here: still nothing to refund.
    pay(stripe_gateway, license)
    assert_error(refund_by_admin(client, admin, license["id"], 1), 409, "no payment")
    assert count(Refund) == 0 and ledger_size() == (0, 0)
    assert get(client, buyer, license["id"])["status"] == "pending_payment"


def test_partial_refunds_reverse_by_the_rule_until_every_share_is_zero(
        client, app, buyer, offer_id, stripe_gateway, admin):
    license = paid_license(client, app, stripe_gateway, buyer, offer_id)
    first = refund_by_admin(client, admin, license["id"], 12_345)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["amount"] == {"amount": 12_345, "currency": "usd"}
    refund_id = first.get_json()["refund_id"]
    # 87655 left: fee floor(4382.75) = 4382, net 83273, pool floor(41636.5) = 41636, platform 41637.
    assert split_of(client, buyer, license["id"]) == {
        "paid": PRICE, "refunded": 12_345, "marketplace_fee": 4382, "to_platform": 41637,
        "to_contributors": 41636, "unallocated": 0, "contributors_paid": 7}
    assert split_of(client, buyer, license["id"]) == expected_split(12_345)
    # The reversal posts the differences from the whole payment's split (5000, 47500, 47500).
    assert entries(f"refund:{refund_id}") == {
        "refunds_disputes": 12_345, "marketplace_fees": 4382 - 5000, "platform_payable": 41637 - 47500,
        "contributor_payable": 41636 - 47500}
    # 41636 by weight: 8327.2 ×3, 4163.6 ×4; floors sum to 41633, the 3 cents left go to u3, u4, u5.
    assert contributor_balances() == [8327, 8327, 8327, 4164, 4164, 4164, 4163]
    assert largest_remainder(41636) == [8327, 8327, 8327, 4164, 4164, 4164, 4163]
    [refund] = refunds_of(license["id"])
    assert (refund.refund_id, refund.amount, refund.reason) == (refund_id, 12_345, "admin")
    assert refund.requested_by is not None
    assert stripe_gateway.client.v1.refunds.retrieve(refund_id).amount == 12_345
    assert get(client, buyer, license["id"])["status"] == "active"

    assert_error(refund_by_admin(client, admin, license["id"], PRICE - 12_345 + 1), 422)
    rest = refund_by_admin(client, admin, license["id"], PRICE - 12_345)
    assert rest.status_code == 201, rest.get_json()
    assert get(client, buyer, license["id"])["status"] == "refunded"
    assert split_of(client, buyer, license["id"]) == {
        "paid": PRICE, "refunded": PRICE, "marketplace_fee": 0, "to_platform": 0, "to_contributors": 0,
        "unallocated": 0, "contributors_paid": 0}
    assert set(contributor_balances()) == {0}
    assert balances() == {"payment_clearing": -PRICE, "refunds_disputes": PRICE, "marketplace_fees": 0,
                          "platform_payable": 0, "contributor_payable": 0}
    assert [r.amount for r in refunds_of(license["id"])] == [12_345, PRICE - 12_345]
    assert payments_of(license["id"])[0].refunded_amount == PRICE
    # Nothing is left to refund.
    assert field_messages(assert_error(refund_by_admin(client, admin, license["id"], 1), 422), "amount")
    assert client.get("/api/v1/admin/ledger/check", headers=admin).get_json()["balanced"] is True
