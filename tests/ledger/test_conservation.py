"""Invariant 1: every transaction sums to zero per currency, and so does the whole ledger."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.allocation.reversal import reverse_to
from marketplace.extensions import db
from marketplace.ledger import posting
from marketplace.ledger.check import run_check
from marketplace.ledger.models import MARKETPLACE
from tests.ledger import helpers


def test_payments_refunds_and_postings_in_two_currencies_all_sum_to_zero(app):
    owner = helpers.platform()
    made = helpers.dataset(owner, [("ann", "US", 3), ("bob", "US", 2), ("fr", "FR", 1)])
    nobody = helpers.dataset(owner, [("kr", "KR", 4)])
    first = helpers.pay(made, 100_001)
    second = helpers.pay(made, 2_500, share_bps=7_500)
    third = helpers.pay(nobody, 9_999)
    reverse_to(db.session, first, 33_333, key=helpers.unique("refund"))
    reverse_to(db.session, first, 100_001, key=helpers.unique("refund"))
    reverse_to(db.session, third, 1, key=helpers.unique("dispute"))
    reverse_to(db.session, third, 0, key=helpers.unique("dispute-won"))
    posting.post_transaction(db.session, key=helpers.unique("fx"), kind="adjustment", currency="eur", entries=[
        ("payment_clearing", MARKETPLACE, -700), ("processor_fees", MARKETPLACE, 30),
        ("platform_payable", owner.id, 670)])

    # Directly in SQL: no transaction is off in any currency, and the ledger is zero per currency.
    assert helpers.unbalanced_transactions() == []
    assert helpers.ledger_sums() == {"usd": 0, "eur": 0}
    # The money is where the rule puts it: the first payment came back whole; the others stand.
    balances = helpers.balances()
    fee2, platform2, pool2 = helpers.shares_at(second, 0)
    fee3, platform3, pool3 = helpers.shares_at(third, 0)
    assert balances[("payment_clearing", MARKETPLACE)] == -(100_001 + 2_500 + 9_999) - 700
    assert balances[("refunds_disputes", MARKETPLACE)] == 100_001
    assert balances[("marketplace_fees", MARKETPLACE)] == fee2 + fee3 == 125 + 499
    assert balances[("platform_payable", owner.id)] == platform2 + platform3 + 670
    assert balances[("dataset_unallocated", nobody.id)] == pool3 == 4750
    assert sum(amount for (account, _o), amount in balances.items() if account == "contributor_payable") == pool2
    result = run_check(db.session)
    assert result.balanced, result.violations
    assert result.mismatched_accounts == []
    assert result.transactions == helpers.transaction_count() == 3 + 4 + 1


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(min_value=1, max_value=10**9), st.integers(min_value=0, max_value=100)),
                min_size=1, max_size=4))
def test_any_payments_and_refunds_keep_every_transaction_at_zero(app, payments):
    made = helpers.dataset(helpers.platform(), [("ann", "US", 7), ("bob", "BR", 2), ("cy", "DE", 5)])
    for gross, refunded_percent in payments:
        allocation = helpers.pay(made, gross)
        if refunded_percent:
            reverse_to(db.session, allocation, gross * refunded_percent // 100, key=helpers.unique("refund"))
        assert helpers.unbalanced_transactions() == []
        assert set(helpers.ledger_sums().values()) == {0}
    assert run_check(db.session).balanced


def test_the_check_sees_an_unbalanced_transaction_that_bypassed_the_posting_code(app):
    """The check is not a mirror of the posting code: it reads the entries as they are."""
    opened = posting.open_transaction(db.session, key=helpers.unique("raw"), payload={}, kind="test")
    posting.add_entries(db.session, opened.transaction.id, "usd", [("marketplace_fees", MARKETPLACE, 3),
                                                                   ("payment_clearing", MARKETPLACE, -2)])
    assert helpers.unbalanced_transactions() == [(opened.transaction.id, "usd", 1)]
    result = run_check(db.session)
    assert not result.balanced
    assert {v["invariant"] for v in result.violations} == {
        "transaction sums to zero", "ledger sums to zero", "transaction sealed with all its entries"}
    assert result.mismatched_accounts == [{"currency": "usd", "sum": 1}]
