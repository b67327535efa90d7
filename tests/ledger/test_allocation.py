"""Invariants 1–6 on the database: the SQL split equals the rule, refunds recompute, replays,
append-only storage."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.ledger import posting
from marketplace.ledger.allocation import contributor_amounts, reverse_to
from marketplace.ledger.check import run_check
from marketplace.ledger.models import MARKETPLACE, LedgerEntry
from marketplace.ledger.split import largest_remainder, split
from tests.ledger import helpers

DB_SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def expected(pool: int, people) -> dict[str, int]:
    eligible = [(person, weight) for person, region, weight in people if region not in helpers.OPT_IN]
    return dict(zip([p for p, _ in eligible], largest_remainder(pool, eligible), strict=True))


def test_a_worked_payment_posts_exact_shares(app):
    owner = helpers.platform()
    made = helpers.dataset(owner, [("ann", "US", 3), ("bob", "US", 3), ("cat", "US", 1), ("fr", "FR", 5)])
    allocation = helpers.pay(made, 100_001)
    assert (allocation.fee, allocation.to_platform, allocation.pool) == (5000, 47501, 47500)
    # 47500 over weights 3:3:1 → 20357.14, 20357.14, 6785.71: floors 20357+20357+6785 = 47499, one
    # cent left for the largest remainder (cat's .71).
    assert helpers.by_external_id(made, contributor_amounts(db.session, allocation)) == {
        "ann": 20357, "bob": 20357, "cat": 6786}
    assert (allocation.eligible_count, allocation.total_weight, allocation.unallocated) == (3, 7, 0)
    sums = db.session.execute(text(
        "SELECT transaction_id, currency, SUM(amount) FROM ledger_entries GROUP BY 1, 2")).all()
    assert [row[2] for row in sums] == [0]
    assert run_check(db.session).balanced


def test_no_eligible_contributor_sends_the_pool_to_the_dataset(app):
    made = helpers.dataset(helpers.platform(), [("fr", "FR", 2), ("kr", "KR", 1)])
    allocation = helpers.pay(made, 10_000)
    assert (allocation.eligible_count, allocation.unallocated) == (0, allocation.pool)
    balance = db.session.scalar(select(func.sum(LedgerEntry.amount)).where(
        LedgerEntry.account == "dataset_unallocated", LedgerEntry.owner_id == made.id))
    assert balance == split(10_000, 500, 5000).pool == 4750


people_strategy = st.lists(
    st.tuples(st.sampled_from(["US", "BR", "FR", "JP"]), st.integers(min_value=1, max_value=6)),
    min_size=1, max_size=8)


@DB_SETTINGS
@given(people_strategy, st.integers(min_value=50, max_value=10**9), st.integers(min_value=5000, max_value=10_000))
def test_the_sql_split_equals_the_rule(app, regions_weights, gross, share_bps):
    people = [(f"p{i:02d}", region, weight) for i, (region, weight) in enumerate(regions_weights)]
    made = helpers.dataset(helpers.platform(), people)
    allocation = helpers.pay(made, gross, share_bps=share_bps)
    pool = split(gross, 500, share_bps).pool
    want = expected(pool, people)
    got = helpers.by_external_id(made, contributor_amounts(db.session, allocation))
    assert got == want
    assert allocation.pool - allocation.unallocated == sum(got.values())


def test_amounts_and_weights_near_10_to_the_12_stay_exact(app):
    # Products reach 10^24: SQLite would silently turn them into floats without the guard.
    people = [("a", "US", 333_333_333_333), ("b", "US", 333_333_333_334), ("c", "US", 333_333_333_332)]
    made = helpers.dataset(helpers.platform(), people, weighting="tokens")
    gross = 1_999_999_999_999
    allocation = helpers.pay(made, gross, share_bps=10_000, fee_bps=0)
    assert allocation.total_weight == 999_999_999_999
    got = helpers.by_external_id(made, contributor_amounts(db.session, allocation))
    assert got == expected(gross, people)
    assert sum(got.values()) == gross


@DB_SETTINGS
@given(st.lists(st.integers(min_value=1, max_value=10_000), min_size=1, max_size=6), st.randoms())
def test_refunds_of_the_whole_payment_leave_every_share_at_zero(app, parts, rng):
    people = [("ann", "US", 5), ("bob", "BR", 2), ("cy", "JP", 1)]
    made = helpers.dataset(helpers.platform(), people)
    gross = sum(parts)
    allocation = helpers.pay(made, gross)
    refunded = 0
    rng.shuffle(parts)
    for n, part in enumerate(parts):
        refunded += part
        reverse_to(db.session, allocation, refunded, key=f"refund:{allocation.id}:{n}")
        fee, to_platform, pool = split(gross - refunded, 500, 5000)
        assert helpers.by_external_id(made, contributor_amounts(db.session, allocation)) == expected(pool, people)
        assert (allocation_total(allocation, "marketplace_fees"),
                allocation_total(allocation, "platform_payable")) == (fee, to_platform)
    assert set(contributor_amounts(db.session, allocation).values()) == {0}
    for account in ("marketplace_fees", "platform_payable", "contributor_payable"):
        assert allocation_total(allocation, account) == 0
    assert run_check(db.session).balanced


def allocation_total(allocation, account: str) -> int:
    return int(db.session.execute(text(
        "SELECT COALESCE(SUM(e.amount), 0) FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id "
        "WHERE (t.id = :original OR t.allocation_id = :allocation) AND e.account = :account"),
        {"original": allocation.transaction_id, "allocation": allocation.id, "account": account}).scalar())


def test_a_partial_refund_follows_the_rule_and_a_won_dispute_restores(app):
    people = [("ann", "US", 2), ("bob", "US", 1)]
    made = helpers.dataset(helpers.platform(), people)
    allocation = helpers.pay(made, 9_999)
    reverse_to(db.session, allocation, 3_333, key="refund:1")
    fee, to_platform, pool = split(9_999 - 3_333, 500, 5000)
    assert (allocation_total(allocation, "marketplace_fees"), allocation_total(allocation, "platform_payable"),
            allocation_total(allocation, "contributor_payable")) == (fee, to_platform, pool)
    assert allocation_total(allocation, "refunds_disputes") == 3_333
    reverse_to(db.session, allocation, 0, key="dispute-won:1")
    fee, to_platform, pool = split(9_999, 500, 5000)
    assert (allocation_total(allocation, "marketplace_fees"), allocation_total(allocation, "platform_payable"),
            allocation_total(allocation, "contributor_payable")) == (fee, to_platform, pool)
    with pytest.raises(Exception, match="between 0 and"):
        reverse_to(db.session, allocation, 10_000, key="too-much")


def test_replays_post_nothing_and_a_changed_request_conflicts(app):
    made = helpers.dataset(helpers.platform(), [("ann", "US", 1)])
    allocation = helpers.pay(made, 5_000, key="payment:pi_replayed")
    entries = db.session.scalar(select(func.count()).select_from(LedgerEntry))
    assert helpers.pay(made, 5_000, key="payment:pi_replayed").id == allocation.id
    reverse_to(db.session, allocation, 1_000, key="refund:re_1")
    after_refund = db.session.scalar(select(func.count()).select_from(LedgerEntry))
    assert after_refund > entries
    reverse_to(db.session, allocation, 1_000, key="refund:re_1")
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == after_refund
    with pytest.raises(Conflict):
        helpers.pay(made, 6_000, key="payment:pi_replayed")
    with pytest.raises(Conflict):
        reverse_to(db.session, allocation, 2_000, key="refund:re_1")
    entries = [("marketplace_fees", MARKETPLACE, 5), ("payment_clearing", MARKETPLACE, -5)]
    first = posting.post_transaction(db.session, key="manual:1", kind="adjustment", currency="usd", entries=entries)
    again = posting.post_transaction(db.session, key="manual:1", kind="adjustment", currency="usd", entries=entries)
    assert (first.replayed, again.replayed, again.transaction.id) == (False, True, first.transaction.id)
    with pytest.raises(Conflict):
        posting.post_transaction(db.session, key="manual:1", kind="adjustment", currency="usd",
                                 entries=[("marketplace_fees", MARKETPLACE, 6), ("payment_clearing", MARKETPLACE, -6)])
    with pytest.raises(ValueError):
        posting.post_transaction(db.session, key="manual:2", kind="adjustment", currency="usd",
                                 entries=[("marketplace_fees", MARKETPLACE, 6)])


@pytest.mark.parametrize("statement", [
    "UPDATE ledger_entries SET amount = amount + 1",
    "DELETE FROM ledger_entries",
    "UPDATE ledger_transactions SET kind = 'x'",
    "DELETE FROM ledger_transactions",
    "UPDATE allocations SET gross = gross",
    "DELETE FROM allocations",
    "DELETE FROM ledger_seals",
])
def test_the_database_refuses_to_change_history(app, statement):
    made = helpers.dataset(helpers.platform(), [("ann", "US", 1)])
    helpers.pay(made, 5_000)
    db.session.commit()
    with pytest.raises(DatabaseError, match="append-only"):
        with db.session.begin_nested():
            db.session.execute(text(statement))


def test_the_database_refuses_an_unbalanced_seal(app):
    opened = posting.open_transaction(db.session, key="unbalanced", payload={}, kind="test")
    posting.add_entries(db.session, opened.transaction.id, "usd", [("marketplace_fees", MARKETPLACE, 7)])
    with pytest.raises(DatabaseError, match="does not balance"):
        with db.session.begin_nested():
            posting.seal(db.session, opened.transaction.id)
