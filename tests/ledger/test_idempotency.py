"""Invariant 5: replaying any operation with its key posts nothing new; the same key for another
request is a conflict (409) and posts nothing either."""
from __future__ import annotations

import pytest

from marketplace.allocation.reversal import reverse_to
from marketplace.allocation.services import allocate_payment
from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.ledger import posting
from marketplace.ledger.check import run_check
from marketplace.ledger.models import MARKETPLACE
from tests.ledger import helpers


def snapshot():
    return helpers.transaction_count(), helpers.entry_count(), helpers.balances()


def test_allocating_a_payment_twice_returns_the_same_allocation_and_posts_nothing(app):
    made = helpers.dataset(helpers.platform(), [("ann", "US", 2), ("bob", "US", 1)])
    facts = helpers.facts(made, 5_000, key="payment:pi_replayed")
    allocation = allocate_payment(db.session, facts, fee_bps=500, opt_in_regions=helpers.OPT_IN)
    before = snapshot()
    for _ in range(3):
        again = allocate_payment(db.session, facts, fee_bps=500, opt_in_regions=helpers.OPT_IN)
        assert again.id == allocation.id and again.transaction_id == allocation.transaction_id
    assert snapshot() == before
    # Scopes and versions are a set: the same payment written in another order is the same request.
    reordered = helpers.facts(made, 5_000, key="payment:pi_replayed", scopes=("ai-train", "ai-train"))
    assert allocate_payment(db.session, reordered, fee_bps=500, opt_in_regions=helpers.OPT_IN).id == allocation.id
    assert snapshot() == before


def test_a_reversal_replayed_posts_nothing_even_after_later_reversals(app):
    made = helpers.dataset(helpers.platform(), [("ann", "US", 2), ("bob", "US", 1)])
    allocation = helpers.pay(made, 10_000)
    first = reverse_to(db.session, allocation, 1_000, key="refund:re_1")
    before = snapshot()
    assert reverse_to(db.session, allocation, 1_000, key="refund:re_1").id == first.id
    assert snapshot() == before
    reverse_to(db.session, allocation, 4_000, key="refund:re_2")
    later = snapshot()
    # The first refund's webhook arrives again, after the second: it must not take the shares back.
    assert reverse_to(db.session, allocation, 1_000, key="refund:re_1").id == first.id
    assert snapshot() == later
    assert helpers.allocation_total(allocation, "refunds_disputes") == 4_000


def test_a_reversal_that_changed_nothing_still_spends_its_key(app):
    made = helpers.dataset(helpers.platform(), [("ann", "US", 1)])
    allocation = helpers.pay(made, 10_000)
    reverse_to(db.session, allocation, 1_000, key=helpers.unique("refund"))
    # A second event for the same total changes nothing …
    entries = helpers.entry_count()
    noop = reverse_to(db.session, allocation, 1_000, key="event:evt_same_total")
    assert helpers.entry_count() == entries
    reverse_to(db.session, allocation, 3_000, key=helpers.unique("refund"))
    later = snapshot()
    # … and replaying it once the total moved on must not drag the shares back to 1,000.
    assert reverse_to(db.session, allocation, 1_000, key="event:evt_same_total").id == noop.id
    assert snapshot() == later
    assert helpers.allocation_total(allocation, "refunds_disputes") == 3_000
    assert run_check(db.session).balanced


def test_a_posting_replayed_posts_nothing_whatever_the_order_of_its_entries(app):
    owner = helpers.platform()
    entries = [("marketplace_fees", MARKETPLACE, 5), ("platform_payable", owner.id, 10),
               ("payment_clearing", MARKETPLACE, -15)]
    first = posting.post_transaction(db.session, key="manual:1", kind="adjustment", currency="usd",
                                     entries=entries)
    before = snapshot()
    again = posting.post_transaction(db.session, key="manual:1", kind="adjustment", currency="usd",
                                     entries=list(reversed(entries)))
    assert (first.replayed, again.replayed, again.transaction.id) == (False, True, first.transaction.id)
    assert snapshot() == before
    assert before[2][("platform_payable", owner.id)] == 10


def test_the_same_key_for_another_request_is_a_409_conflict_and_posts_nothing(app):
    made = helpers.dataset(helpers.platform(), [("ann", "US", 1)])
    allocation = helpers.pay(made, 5_000, key="payment:pi_taken")
    reverse_to(db.session, allocation, 1_000, key="refund:re_taken")
    entries = [("marketplace_fees", MARKETPLACE, 5), ("payment_clearing", MARKETPLACE, -5)]
    posting.post_transaction(db.session, key="manual:taken", kind="adjustment", currency="usd", entries=entries)
    before = snapshot()
    attempts = [
        lambda: helpers.pay(made, 6_000, key="payment:pi_taken"),                     # another amount
        lambda: helpers.pay(made, 5_000, key="payment:pi_taken", scopes=("ai-input",)),
        lambda: helpers.pay(made, 5_000, key="payment:pi_taken", share_bps=6000),
        lambda: reverse_to(db.session, allocation, 2_000, key="refund:re_taken"),     # another total
        lambda: posting.post_transaction(db.session, key="manual:taken", kind="adjustment", currency="usd",
                                         entries=[("marketplace_fees", MARKETPLACE, 6),
                                                  ("payment_clearing", MARKETPLACE, -6)]),
        lambda: posting.post_transaction(db.session, key="manual:taken", kind="adjustment", currency="eur",
                                         entries=entries),
        lambda: helpers.pay(made, 5_000, key="manual:taken"),                           # a key of another kind
        lambda: reverse_to(db.session, allocation, 1_000, key="payment:pi_taken"),
        lambda: posting.post_transaction(db.session, key="refund:re_taken", kind="adjustment",
                                         currency="usd", entries=entries),
    ]
    for attempt in attempts:
        with pytest.raises(Conflict) as caught:
            attempt()
        assert caught.value.code == 409
    assert snapshot() == before


def test_a_malformed_posting_is_refused_before_it_spends_its_key(app):
    before = snapshot()
    with pytest.raises(ValueError, match="sum to zero"):
        posting.post_transaction(db.session, key="manual:lopsided", kind="adjustment", currency="usd",
                                 entries=[("marketplace_fees", MARKETPLACE, 6)])
    with pytest.raises(ValueError, match="unknown account"):
        posting.post_transaction(db.session, key="manual:nowhere", kind="adjustment", currency="usd",
                                 entries=[("petty_cash", MARKETPLACE, 6), ("payment_clearing", MARKETPLACE, -6)])
    assert snapshot() == before
    fine = [("marketplace_fees", MARKETPLACE, 6), ("payment_clearing", MARKETPLACE, -6)]
    assert not posting.post_transaction(db.session, key="manual:lopsided", kind="adjustment", currency="usd",
                                        entries=fine).replayed
    assert not posting.post_transaction(db.session, key="manual:nowhere", kind="adjustment", currency="usd",
                                        entries=fine).replayed
