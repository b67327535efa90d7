"""Invariants 2 and 3 in the database: the set-based SQL split equals the pure-integer rule,
exactly, up to amounts and total weights of 10^12 and beyond."""
from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from marketplace.allocation.reversal import contributor_amounts
from marketplace.allocation.services import allocate_payment
from marketplace.allocation.split import MAX_AMOUNT, MAX_TOTAL_WEIGHT, largest_remainder, split
from marketplace.errors import Invalid
from marketplace.extensions import db
from marketplace.ledger.check import run_check
from marketplace.ledger.models import LedgerEntry
from tests.ledger import helpers

#: Database-backed examples are slow; every example builds its own platform and dataset.
DB_SETTINGS = settings(max_examples=30, deadline=None,
                       suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def posted(allocation) -> dict[str, int]:
    """The allocation's own entries by account (lines summed), as posted."""
    return {account: int(total) for account, total in db.session.execute(
        select(LedgerEntry.account, func.sum(LedgerEntry.amount))
        .where(LedgerEntry.transaction_id == allocation.transaction_id).group_by(LedgerEntry.account))}


def lines(allocation) -> dict[str, tuple[int, int]]:
    """tie-break key → (weight, amount) of each allocation line."""
    return {tiebreak: (int(weight), int(amount)) for tiebreak, weight, amount in db.session.execute(
        select(LedgerEntry.tiebreak, LedgerEntry.weight, LedgerEntry.amount)
        .where(LedgerEntry.transaction_id == allocation.transaction_id, LedgerEntry.weight.is_not(None)))}


def test_a_worked_payment_posts_exact_shares(app):
    owner = helpers.platform()
    made = helpers.dataset(owner, [("ann", "US", 3), ("bob", "US", 3), ("cat", "US", 1), ("fr", "FR", 5)])
    allocation = helpers.pay(made, 100_001, fee_bps=500, share_bps=5000)
    # fee = floor(100001 · 0.05) = 5000; net = 95001; pool = floor(95001 / 2) = 47500; platform 47501.
    assert (allocation.fee, allocation.to_platform, allocation.pool) == (5000, 47501, 47500)
    assert allocation.fee + allocation.to_platform + allocation.pool == allocation.gross == 100_001
    # 47500 over 3:3:1 (fr left out: opt-in region, no grant): 20357.14…, 20357.14…, 6785.71…;
    # the floors make 47499 and the one cent left goes to the largest remainder, cat's .71.
    assert lines(allocation) == {"ann": (3, 20357), "bob": (3, 20357), "cat": (1, 6786)}
    assert helpers.by_external_id(contributor_amounts(db.session, allocation)) == {
        "ann": 20357, "bob": 20357, "cat": 6786}
    assert (allocation.eligible_count, allocation.total_weight, allocation.unallocated) == (3, 7, 0)
    assert (allocation.fee_bps, allocation.contributor_share_bps, allocation.weighting) == (500, 5000, "records")
    assert posted(allocation) == {"payment_clearing": -100_001, "marketplace_fees": 5000,
                                  "platform_payable": 47501, "contributor_payable": 47500}
    assert helpers.balances()[("platform_payable", owner.id)] == 47501
    assert helpers.unbalanced_transactions() == []
    assert run_check(db.session).balanced


def test_no_eligible_contributor_sends_the_pool_to_the_dataset(app):
    owner = helpers.platform()
    made = helpers.dataset(owner, [("fr", "FR", 2), ("kr", "KR", 1)])
    allocation = helpers.pay(made, 10_000)
    # fee 500, net 9500, pool 4750 → unallocated, never to the platform.
    assert (allocation.fee, allocation.to_platform, allocation.pool) == (500, 4750, 4750)
    assert (allocation.eligible_count, allocation.total_weight, allocation.unallocated) == (0, 0, 4750)
    assert lines(allocation) == {}
    assert posted(allocation) == {"payment_clearing": -10_000, "marketplace_fees": 500,
                                  "platform_payable": 4750, "dataset_unallocated": 4750}
    assert helpers.balances()[("dataset_unallocated", made.id)] == 4750
    assert run_check(db.session).balanced


def test_a_pool_smaller_than_the_crowd_pays_the_largest_remainders(app):
    # Pool 3 among five equal weights: one unit each to the three smallest keys in byte order.
    people = [("b", "US", 1), ("B", "US", 1), ("a", "US", 1), ("_", "US", 1), ("a0", "US", 1)]
    made = helpers.dataset(helpers.platform(), people)
    allocation = helpers.pay(made, 3, fee_bps=0, share_bps=10_000)
    assert allocation.pool == 3
    assert {k: amount for k, (_w, amount) in lines(allocation).items()} == {
        "B": 1, "_": 1, "a": 1, "a0": 0, "b": 0}
    assert run_check(db.session).balanced


# ---- the SQL agrees with the reference, exactly -----------------------------------------------

#: External ids whose byte order differs from case-insensitive, numeric or locale order.
NAMES = ["a", "B", "b", "A1", "a10", "a9", "Z", "_x", "0", "é", "zz", "Ω"]


@st.composite
def crowds(draw, max_weight: int, max_size: int = 6):
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=max_size, unique=True))
    weights = st.one_of(st.sampled_from([1, 2, 3]), st.integers(min_value=1, max_value=max_weight))
    return [(name, draw(st.sampled_from(["US", "BR", "FR", "JP"])), draw(weights)) for name in names]


def assert_matches_the_rule(made, allocation, people, gross, fee_bps, share_bps):
    fee, to_platform, pool = split(gross, fee_bps, share_bps)
    assert (allocation.fee, allocation.to_platform, allocation.pool) == (fee, to_platform, pool)
    want = helpers.rule(pool, people)
    got = helpers.by_external_id(contributor_amounts(db.session, allocation))
    assert got == want
    eligible = {p: w for p, r, w in people if r not in helpers.OPT_IN}
    assert lines(allocation) == {p: (eligible[p], want[p]) for p in eligible}
    assert allocation.total_weight == sum(eligible.values())
    assert allocation.unallocated == (0 if eligible else pool)
    assert sum(got.values()) + allocation.unallocated == pool


@DB_SETTINGS
@given(crowds(max_weight=6), st.integers(min_value=1, max_value=10**9),
       st.integers(min_value=0, max_value=2000), st.integers(min_value=5000, max_value=10_000))
def test_the_sql_split_equals_the_rule_by_records(app, people, gross, fee_bps, share_bps):
    made = helpers.dataset(helpers.platform(), people)
    allocation = helpers.pay(made, gross, fee_bps=fee_bps, share_bps=share_bps)
    assert_matches_the_rule(made, allocation, people, gross, fee_bps, share_bps)


@DB_SETTINGS
@given(crowds(max_weight=2 * 10**11, max_size=5), st.integers(min_value=1, max_value=10**12),
       st.integers(min_value=0, max_value=2000), st.integers(min_value=5000, max_value=10_000))
def test_the_sql_split_equals_the_rule_by_tokens_up_to_10_to_the_12(app, people, gross, fee_bps, share_bps):
    # Pool × weight reaches 10^23 here: without the guard SQLite would compute in floats.
    made = helpers.dataset(helpers.platform(), people, weighting="tokens")
    allocation = helpers.pay(made, gross, fee_bps=fee_bps, share_bps=share_bps)
    assert_matches_the_rule(made, allocation, people, gross, fee_bps, share_bps)


def test_amounts_and_weights_near_10_to_the_12_stay_exact(app):
    people = [("a", "US", 333_333_333_333), ("b", "US", 333_333_333_334), ("c", "US", 333_333_333_332)]
    made = helpers.dataset(helpers.platform(), people, weighting="tokens")
    gross = 1_999_999_999_999
    allocation = helpers.pay(made, gross, share_bps=10_000, fee_bps=0)
    assert (allocation.pool, allocation.total_weight) == (gross, 999_999_999_999)
    # G = 2W + 1, so each quota is 2w + w/W: floors 2w (summing to 2W), remainders w; the one unit
    # left goes to the largest weight, b.
    assert helpers.by_external_id(contributor_amounts(db.session, allocation)) == {
        "a": 666_666_666_666, "b": 666_666_666_669, "c": 666_666_666_664}
    assert helpers.rule(gross, people) == {"a": 666_666_666_666, "b": 666_666_666_669, "c": 666_666_666_664}
    assert run_check(db.session).balanced


def test_the_largest_exact_inputs_stay_exact(app):
    # The documented limits: gross 2^62, total weight 2^40 − 1 (the shares chain stays below 2^63).
    people = [("x", "US", MAX_TOTAL_WEIGHT - 3 * 2**20 - 7), ("y", "US", 3 * 2**20), ("z", "US", 7)]
    made = helpers.dataset(helpers.platform(), people, weighting="tokens")
    allocation = helpers.pay(made, MAX_AMOUNT, share_bps=10_000, fee_bps=0)
    got = helpers.by_external_id(contributor_amounts(db.session, allocation))
    assert got == dict(zip("xyz", largest_remainder(MAX_AMOUNT, [(p, w) for p, _r, w in people]), strict=True))
    assert sum(got.values()) == MAX_AMOUNT
    assert run_check(db.session).balanced


def test_beyond_the_exact_range_is_refused_before_anything_is_posted(app):
    made = helpers.dataset(helpers.platform(), [("x", "US", MAX_TOTAL_WEIGHT + 1)], weighting="tokens")
    before = helpers.transaction_count()
    with pytest.raises(Invalid, match="beyond exact"):
        helpers.pay(made, 1_000)
    small = helpers.dataset(helpers.platform(), [("y", "US", 1)])
    for gross in (0, -5, MAX_AMOUNT + 1):
        with pytest.raises(Invalid, match="gross"):
            helpers.pay(small, gross)
    assert helpers.transaction_count() == before


def test_payments_the_rule_cannot_split_are_refused_and_post_nothing(app):
    made = helpers.dataset(helpers.platform(), [("ann", "US", 1)])
    before = helpers.transaction_count(), helpers.entry_count()
    for kwargs, field in [
        ({"fee_bps": -1}, "fee_bps"), ({"fee_bps": 10_001}, "fee_bps"),
        ({"share_bps": -1}, "contributor_share_bps"), ({"share_bps": 10_001}, "contributor_share_bps"),
        ({"scopes": ()}, "scopes"), ({"version_ids": (10**9,)}, "version_ids"),
    ]:
        with pytest.raises(Invalid) as caught:
            helpers.pay(made, 1_000, **kwargs)
        assert list(caught.value.errors["json"]) == [field]
        assert caught.value.code == 422
    unknown = dataclasses.replace(helpers.facts(made, 1_000), dataset_id=10**9)
    with pytest.raises(Invalid, match="No such dataset"):
        allocate_payment(db.session, unknown, fee_bps=500, opt_in_regions=helpers.OPT_IN)
    assert (helpers.transaction_count(), helpers.entry_count()) == before


def test_a_contributor_of_zero_weight_gets_zero(app):
    # By tokens, records without tokens weigh nothing: no line, no money, and no say in the split.
    people = [("ann", "US", 0), ("bob", "US", 3), ("cy", "US", 0), ("dee", "US", 1)]
    made = helpers.dataset(helpers.platform(), people, weighting="tokens")
    assert helpers.contributor(made, "ann") is not None
    allocation = helpers.pay(made, 1_001, fee_bps=0, share_bps=10_000)
    assert lines(allocation) == {"bob": (3, 751), "dee": (1, 250)}  # 750.75 and 250.25
    assert helpers.by_external_id(contributor_amounts(db.session, allocation)) == {"bob": 751, "dee": 250}
    assert helpers.rule(1_001, people) == {"ann": 0, "bob": 751, "cy": 0, "dee": 250}
    assert allocation.eligible_count == 2


def test_the_split_does_not_depend_on_the_order_rows_were_written(app):
    people = [(name, "US", weight) for name, weight in zip(NAMES, [5, 3, 3, 1, 7, 3, 2, 2, 9, 3, 1, 3], strict=True)]
    forward = helpers.dataset(helpers.platform(), people)
    backward = helpers.dataset(helpers.platform(), list(reversed(people)))
    first = helpers.pay(forward, 77_777)
    second = helpers.pay(backward, 77_777)
    amounts = helpers.by_external_id(contributor_amounts(db.session, first))
    assert amounts == helpers.by_external_id(contributor_amounts(db.session, second))
    assert amounts == helpers.rule(first.pool, people)


def test_weights_add_up_over_the_versions_a_payment_covers(app):
    made = helpers.dataset(helpers.platform(), [("ann", "US", 2), ("bob", "US", 1)])
    v1 = made.latest_version.id
    helpers.add_records(made, [("bob", "US", 4), ("cy", "US", 1)], prefix="more-")
    from marketplace.catalog import versions

    v2 = versions.freeze_version(db.session, made).id
    allocation = helpers.pay(made, 10_000, version_ids=(v1, v2))
    # Weights summed over both versions: ann 2 + 2, bob 1 + 5, cy 0 + 1 (version 2 holds everything).
    assert {k: w for k, (w, _a) in lines(allocation).items()} == {"ann": 4, "bob": 6, "cy": 1}
    assert helpers.by_external_id(contributor_amounts(db.session, allocation)) == helpers.rule(
        allocation.pool, [("ann", "US", 4), ("bob", "US", 6), ("cy", "US", 1)])
    with pytest.raises(Invalid, match="versions"):
        helpers.pay(made, 10_000, version_ids=(v1, 10**9))


def test_each_allocation_can_be_recomputed_from_its_own_lines(app):
    """The lines keep weight and tie-break key: the check recomputes every allocation from them."""
    made = helpers.dataset(helpers.platform(), [("ann", "US", 2), ("bob", "US", 5), ("cy", "US", 1)])
    allocation = helpers.pay(made, 54_321)
    result = run_check(db.session)
    assert result.balanced, result.violations
    rows = db.session.execute(text(
        "SELECT tiebreak, weight FROM ledger_entries WHERE transaction_id = :t AND weight IS NOT NULL "
        "ORDER BY tiebreak"), {"t": allocation.transaction_id}).all()
    assert [tuple(row) for row in rows] == [("ann", 2), ("bob", 5), ("cy", 1)]
