"""A refund or dispute event that changes nothing posts nothing: not an empty reversal (the ledger
is append-only, so an empty transaction would stay in it for good). Issue 15's probe: a payment
already refunded in full, a repeated total, an older total, more than the payment."""
from __future__ import annotations

import pytest

from tests.licensing.helpers import event, refunded
from tests.payments.helpers import PRICE, deliver, expected_split, ledger_size, paid_license, refund_by_admin, split_of


@pytest.fixture
def license(client, app, buyer, offer_id, stripe_gateway) -> dict:
    return paid_license(client, app, stripe_gateway, buyer, offer_id)


def ledger_clean(runner) -> bool:
    result = runner.invoke(args=["ledger", "check"])
    return result.exit_code == 0


def dispute(license: dict, status: str, amount: int = 5_000) -> dict:
    return event(f"charge.dispute.{'created' if status == 'needs_response' else 'closed'}",
                 {"id": "dp_noop", "object": "dispute", "charge": license["charge_id"], "amount": amount,
                  "status": status})


def test_events_after_a_full_refund_post_nothing(client, app, runner, buyer, license):
    deliver(client, app, refunded(license, license["charge_id"], PRICE))
    size = ledger_size()
    for body in (refunded(license, license["charge_id"], PRICE),        # the same total, a new event id
                 refunded(license, license["charge_id"], 10_000),       # an older, smaller total
                 refunded(license, license["charge_id"], 2 * PRICE),    # more than the payment
                 dispute(license, "needs_response"),                    # nothing left to hold back
                 dispute(license, "won")):
        assert deliver(client, app, body)["duplicate"] is False
        assert ledger_size() == size, body["type"]
    assert split_of(client, buyer, license["id"]) == {**expected_split(PRICE), "contributors_paid": 0}
    assert ledger_clean(runner)


def test_an_older_partial_total_after_a_larger_one_posts_nothing(client, app, runner, buyer, license):
    deliver(client, app, refunded(license, license["charge_id"], 60_000))
    size = ledger_size()
    deliver(client, app, refunded(license, license["charge_id"], 25_000))
    assert ledger_size() == size
    assert split_of(client, buyer, license["id"]) == expected_split(60_000)
    assert ledger_clean(runner)


def test_the_processors_event_for_an_admin_refund_posts_nothing_more(client, app, runner, buyer, admin, license):
    assert refund_by_admin(client, admin, license["id"], PRICE).status_code == 201
    size = ledger_size()
    deliver(client, app, refunded(license, license["charge_id"], PRICE))
    assert ledger_size() == size
    assert ledger_clean(runner)
