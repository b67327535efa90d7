"""Invariant 4: after refunds totalling C every share of a payment is the rule applied to G − C,
with the payment's original eligibility and weights; refunds of the whole payment leave every share
at exactly zero, whatever their number and order; a dispute won restores the shares."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.allocation.reversal import contributor_amounts, reverse_to
from marketplace.consent.services import record_consent
from marketplace.errors import Invalid
from marketplace.extensions import db
from marketplace.ledger.check import run_check
from tests.ledger import helpers

DB_SETTINGS = settings(max_examples=20, deadline=None,
                       suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PEOPLE = [("ann", "US", 5), ("bob", "BR", 2), ("cy", "JP", 1), ("fr", "FR", 3)]
NOBODY = [("fr", "FR", 3), ("kr", "KR", 1)]


def current(allocation) -> dict[str, int]:
    """Every share of the allocation as the ledger holds it now."""
    shares = {account: helpers.allocation_total(allocation, account) for account in (
        "marketplace_fees", "platform_payable", "dataset_unallocated", "refunds_disputes", "payment_clearing")}
    shares.update(helpers.by_external_id(contributor_amounts(db.session, allocation)))
    return shares


def by_rule(allocation, people, refunded: int) -> dict[str, int]:
    """Every share by SPEC.md's rule for gross − refunded, on the original weights."""
    fee, to_platform, pool = helpers.shares_at(allocation, refunded)
    contributors = helpers.rule(pool, people)
    shares = {"marketplace_fees": fee, "platform_payable": to_platform,
              "dataset_unallocated": 0 if contributors else pool,
              "refunds_disputes": refunded, "payment_clearing": -allocation.gross}
    return {**shares, **contributors}


def test_a_worked_partial_refund(app):
    made = helpers.dataset(helpers.platform(), [("ann", "US", 2), ("bob", "US", 1)])
    allocation = helpers.pay(made, 9_999)
    # 9999: fee 499, net 9500, pool 4750 → ann 3166.67 → 3167, bob 1583.33 → 1583; platform 4750.
    assert current(allocation) == {"marketplace_fees": 499, "platform_payable": 4750, "dataset_unallocated": 0,
                                   "refunds_disputes": 0, "payment_clearing": -9_999, "ann": 3167, "bob": 1583}
    reverse_to(db.session, allocation, 3_333, key=helpers.unique("refund"))
    # 6666 left: fee 333, net 6333, pool 3166 → ann 2110.67 → 2111, bob 1055.33 → 1055; platform 3167.
    assert current(allocation) == {"marketplace_fees": 333, "platform_payable": 3167, "dataset_unallocated": 0,
                                   "refunds_disputes": 3_333, "payment_clearing": -9_999, "ann": 2111, "bob": 1055}
    reverse_to(db.session, allocation, 9_999, key=helpers.unique("refund"))
    assert current(allocation) == {"marketplace_fees": 0, "platform_payable": 0, "dataset_unallocated": 0,
                                   "refunds_disputes": 9_999, "payment_clearing": -9_999, "ann": 0, "bob": 0}
    assert run_check(db.session).balanced


@DB_SETTINGS
@given(st.lists(st.integers(min_value=1, max_value=10**7), min_size=1, max_size=7), st.randoms(use_true_random=False),
       st.booleans(), st.integers(min_value=0, max_value=2000), st.integers(min_value=5000, max_value=10_000))
def test_refunds_of_the_whole_payment_leave_every_share_at_zero(app, parts, rng, anyone_eligible,
                                                                 fee_bps, share_bps):
    """G is the sum of the parts: refunding them one by one, in any order, ends at zero everywhere,
    and after each partial refund every share is the rule at G − C."""
    people = PEOPLE if anyone_eligible else NOBODY
    made = helpers.dataset(helpers.platform(), people)
    gross = sum(parts)
    allocation = helpers.pay(made, gross, fee_bps=fee_bps, share_bps=share_bps)
    rng.shuffle(parts)
    refunded = 0
    for part in parts:
        refunded += part
        reverse_to(db.session, allocation, refunded, key=helpers.unique("refund"))
        assert current(allocation) == by_rule(allocation, people, refunded)
    assert refunded == gross
    final = current(allocation)
    assert final.pop("refunds_disputes") == gross and final.pop("payment_clearing") == -gross
    assert set(final.values()) == {0}
    assert run_check(db.session).balanced


@DB_SETTINGS
@given(st.integers(min_value=1, max_value=10**9), st.lists(st.integers(min_value=0, max_value=1000), max_size=8))
def test_any_sequence_of_refunds_and_disputes_follows_the_rule(app, gross, permilles):
    """The refunded total may rise (refund, dispute opened) or fall (dispute won); each time every
    share is the rule at G − C, and falling back to zero restores the original split exactly."""
    made = helpers.dataset(helpers.platform(), PEOPLE)
    allocation = helpers.pay(made, gross)
    original = current(allocation)
    for permille in permilles:
        refunded = gross * permille // 1000
        reverse_to(db.session, allocation, refunded, key=helpers.unique("held"))
        assert current(allocation) == by_rule(allocation, PEOPLE, refunded)
    reverse_to(db.session, allocation, 0, key=helpers.unique("dispute-won"))
    assert current(allocation) == original
    assert run_check(db.session).balanced


def test_a_won_dispute_restores_the_shares_and_refunds_use_the_original_eligibility(app):
    made = helpers.dataset(helpers.platform(), [("ann", "US", 2), ("bob", "US", 1)])
    allocation = helpers.pay(made, 10_000)
    original = current(allocation)
    # Ann withdraws after the payment: her share of this payment stays hers, refunds included.
    record_consent(db.session, helpers.contributor(made, "ann"), status="withdrawn", dataset=made,
                   source="test", at=helpers.PAID_AT.replace(year=2031))
    reverse_to(db.session, allocation, 4_000, key=helpers.unique("dispute-opened"))
    assert current(allocation) == by_rule(allocation, [("ann", "US", 2), ("bob", "US", 1)], 4_000)
    assert current(allocation)["ann"] == 1900   # 6000: fee 300, net 5700, pool 2850 → 1900 / 950
    reverse_to(db.session, allocation, 0, key=helpers.unique("dispute-won"))
    assert current(allocation) == original == {
        "marketplace_fees": 500, "platform_payable": 4750, "dataset_unallocated": 0, "refunds_disputes": 0,
        "payment_clearing": -10_000, "ann": 3167, "bob": 1583}


def test_refund_totals_outside_the_payment_are_refused(app):
    made = helpers.dataset(helpers.platform(), [("ann", "US", 1)])
    allocation = helpers.pay(made, 5_000)
    before = helpers.entry_count()
    for total in (-1, 5_001):
        with pytest.raises(Invalid, match="between 0 and"):
            reverse_to(db.session, allocation, total, key=helpers.unique("bad"))
    assert helpers.entry_count() == before
