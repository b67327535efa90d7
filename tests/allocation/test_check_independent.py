"""`ledger check` compares allocations with the pure rule (split.largest_remainder), not with the
SQL that wrote them: a wrong line is found even when the SQL itself is what is wrong.

Each database test runs twice: with every allocation held and compared by largest_remainder
itself, and with every allocation streamed (check.StreamedRule, as a million-line one is), with
two buckets so that the cut-off is narrowed over several readings.
"""
from __future__ import annotations

import dataclasses
import random
from collections import Counter

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import text

from marketplace.allocation import check as allocation_check
from marketplace.allocation import reversal, services, sql
from marketplace.allocation.check import BUCKETS, StreamedRule
from marketplace.allocation.reversal import reverse_to
from marketplace.allocation.split import MAX_TOTAL_WEIGHT, largest_remainder
from marketplace.extensions import db
from marketplace.ledger.check import run_check
from tests.ledger import helpers

# ---- the streamed rule is largest_remainder ----------------------------------------------------

keys = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=4)
weights = st.one_of(st.just(0), st.sampled_from([1, 2, 3, 7]), st.integers(min_value=0, max_value=2**36))


@st.composite
def weighted(draw) -> list[tuple[str, int]]:
    drawn = draw(st.lists(weights, min_size=1, max_size=60))
    names = draw(st.lists(keys, min_size=len(drawn), max_size=len(drawn), unique=True))
    return list(zip(names, drawn, strict=True))


def streamed(pool: int, lines: list[tuple[str, int]], buckets: int, seed: int) -> tuple[list[int], int]:
    """StreamedRule's amounts in input order, reading the lines in byte order of their keys only
    when it asks for it (else shuffled); and how many times it read the weight classes."""
    classes = Counter(weight for _key, weight in lines)
    readings = 0

    def read_classes():
        nonlocal readings
        readings += 1
        return list(classes.items())

    rule = StreamedRule(pool, read_classes, buckets=buckets)
    order = list(range(len(lines)))
    random.Random(seed).shuffle(order)
    if rule.needs_order:
        order.sort(key=lambda i: lines[i][0].encode())
    by_index = {i: amount for (_w, _k, i), amount in rule.amounts((lines[i][1], lines[i][0], i) for i in order)}
    return [by_index[i] for i in range(len(lines))], readings


@given(st.integers(min_value=0, max_value=10**12), weighted(), st.sampled_from([2, 3, 16, BUCKETS]),
       st.integers(min_value=0))
@example(100, [("b", 1), ("a", 1), ("c", 1)], 2, 0)
@example(10**12, [(f"k{i}", 2**36 - i) for i in range(60)], 2, 0)
def test_the_streamed_rule_gives_largest_remainders_amounts(pool, lines, buckets, seed):
    amounts, _readings = streamed(pool, lines, buckets, seed)
    assert amounts == largest_remainder(pool, lines)


@given(st.integers(min_value=0, max_value=10**12), weighted(), st.integers(min_value=0))
def test_the_streamed_rule_reads_the_weight_classes_at_most_four_times(pool, lines, seed):
    """Once for the total, then at most three narrowing readings for weights below 2**40."""
    _amounts, readings = streamed(pool, lines, BUCKETS, seed)
    assert readings <= 4


def test_the_streamed_rule_stays_exact_at_the_largest_total_weight():
    lines = [("a", MAX_TOTAL_WEIGHT // 3), ("b", MAX_TOTAL_WEIGHT // 3), ("c", MAX_TOTAL_WEIGHT // 3 + 1)]
    for pool in (1, 2, 10**12, 2**62 - 1):
        assert streamed(pool, lines, BUCKETS, 0)[0] == largest_remainder(pool, lines)


def test_the_streamed_rule_refuses_lines_out_of_byte_order_when_a_tie_decides():
    rule = StreamedRule(100, lambda: [(1, 3)])  # 33 each, one unit left for the first key
    assert rule.needs_order
    assert [amount for _line, amount in rule.amounts([(1, "Zed"), (1, "amy"), (1, "bob")])] == [34, 33, 33]
    with pytest.raises(ValueError, match="byte order"):
        list(rule.amounts([(1, "amy"), (1, "Zed"), (1, "bob")]))


# ---- the check in the database -----------------------------------------------------------------

@pytest.fixture(params=["held", "streamed"])
def comparison(request, monkeypatch) -> list[StreamedRule] | None:
    """None: allocations are held; else the StreamedRules the check made, once it ran."""
    if request.param == "held":
        return None
    rules: list[StreamedRule] = []

    class Kept(StreamedRule):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            rules.append(self)

    monkeypatch.setattr(allocation_check, "HELD_LINES", 0)
    monkeypatch.setattr(allocation_check, "BUCKETS", 2)
    monkeypatch.setattr(allocation_check, "StreamedRule", Kept)
    return rules


def violations() -> dict[str, list]:
    found: dict[str, list] = {}
    for violation in run_check(db.session).violations:
        found.setdefault(violation["invariant"], []).append(violation["detail"])
    return found


#: Equal weights: who gets the leftover units is decided by the tie-break key alone. In byte order
#: "Zed" < "amy" < "bob" (a locale's order would put "amy" first).
TIED = [("amy", "US", 1), ("bob", "US", 1), ("Zed", "US", 1)]


def pay_whole_pool(made, gross: int):
    """No fee, the whole net to the contributors: the pool is the gross."""
    return helpers.pay(made, gross, fee_bps=0, share_bps=10_000)


def amounts(allocation, *, current: bool = False) -> dict[str, int]:
    """Each contributor's line as posted, or (current) after the allocation's reversals."""
    if current:
        return helpers.by_external_id(reversal.contributor_amounts(db.session, allocation))
    return dict(db.session.execute(text(
        "SELECT tiebreak, amount FROM ledger_entries WHERE transaction_id = :t AND weight IS NOT NULL"),
        {"t": allocation.transaction_id}).all())


def test_a_healthy_ledger_with_reversals_passes(app, comparison):
    made = helpers.dataset(helpers.platform(), TIED + [("cy", "US", 5), ("dee", "FR", 2)])
    first, second = pay_whole_pool(made, 100), helpers.pay(made, 12_345)
    reverse_to(db.session, first, 50, key=helpers.unique("refund"))
    reverse_to(db.session, second, 12_345, key=helpers.unique("refund"))
    reverse_to(db.session, second, 345, key=helpers.unique("dispute-won"))
    assert violations() == {}


def test_an_allocation_posted_with_a_cent_moved_between_two_lines_is_reported(app, comparison):
    """A copy of a real allocation, posted by raw INSERTs with one cent moved from one contributor's
    line to another's: balanced and sealed (the seal's trigger accepts it), off the rule."""
    made = helpers.dataset(helpers.platform(), TIED + [("cy", "US", 5)])
    original = pay_whole_pool(made, 1_000)
    zed, cy = helpers.contributor(made, "Zed").id, helpers.contributor(made, "cy").id
    key = helpers.unique("payment:forged")
    db.session.execute(text(
        "INSERT INTO ledger_transactions (idempotency_key, request_hash, kind, memo, created_at) "
        "SELECT :key, request_hash, kind, memo, created_at FROM ledger_transactions WHERE id = :original"),
        {"key": key, "original": original.transaction_id})
    forged = db.session.execute(text("SELECT id FROM ledger_transactions WHERE idempotency_key = :key"),
                                {"key": key}).scalar_one()
    db.session.execute(text(
        "INSERT INTO ledger_entries (transaction_id, account, owner_id, currency, amount, weight, tiebreak) "
        "SELECT :forged, account, owner_id, currency, amount + CASE WHEN weight IS NULL THEN 0 "
        "WHEN owner_id = :loser THEN -1 WHEN owner_id = :winner THEN 1 ELSE 0 END, weight, tiebreak "
        "FROM ledger_entries WHERE transaction_id = :original"),
        {"forged": forged, "original": original.transaction_id, "loser": zed, "winner": cy})
    db.session.execute(text("INSERT INTO ledger_seals (transaction_id, entry_count) "
                            "SELECT :forged, COUNT(*) FROM ledger_entries WHERE transaction_id = :forged"),
                       {"forged": forged})
    columns = ("dataset_id, platform_id, license_id, version_ids, scopes, currency, gross, fee_bps, "
               "contributor_share_bps, fee, to_platform, pool, unallocated, weighting, total_weight, "
               "eligible_count, paid_at, created_at")
    db.session.execute(text(
        f"INSERT INTO allocations (payment_key, transaction_id, {columns}) "
        f"SELECT :key, :forged, {columns} FROM allocations WHERE id = :original"),
        {"key": key, "forged": forged, "original": original.id})
    forged_id = db.session.execute(text("SELECT id FROM allocations WHERE payment_key = :key"),
                                   {"key": key}).scalar_one()
    db.session.execute(text("INSERT INTO allocation_paid_counts (transaction_id, allocation_id, contributors_paid) "
                            "VALUES (:forged, :allocation, 4)"), {"forged": forged, "allocation": forged_id})
    assert amounts(original) == {"Zed": 125, "amy": 125, "bob": 125, "cy": 625}  # 1000 · (1, 1, 1, 5) / 8
    assert violations() == {"allocation recomputes from its lines": [
        {"allocation_id": forged_id, "lines_differing": 2}]}


@pytest.fixture
def ties_to_the_last_key(monkeypatch):
    """Both SQL forms misread the rule the same way: ties go to the key that sorts last.

    The lines still add up to the pool, so every posting balances and seals. The former check
    recomputed lines with the same SQL (sql.SHARE_CHAIN) and found nothing wrong.
    """
    monkeypatch.setattr(sql, "SHARE_CHAIN", sql.SHARE_CHAIN.replace("tiebreak{collate} ASC",
                                                                    "tiebreak{collate} DESC"))

    class LastKeysFirst(sql.Cutoff):
        def amount_sql(self) -> str:
            return super().amount_sql().replace(f"tiebreak <= :key_{self.name}", f"tiebreak >= :key_{self.name}")

    def find_cutoff(session, compile_sql, prefix, params, name, pool):
        def last_keys_first(statement: str):
            return compile_sql(statement.replace("ORDER BY tiebreak LIMIT", "ORDER BY tiebreak DESC LIMIT"))

        cut = sql.find_cutoff(session, last_keys_first, prefix, params, name, pool)
        return None if cut is None else LastKeysFirst(**dataclasses.asdict(cut))

    monkeypatch.setattr(services, "find_cutoff", find_cutoff)
    monkeypatch.setattr(reversal, "find_cutoff", find_cutoff)


def test_a_misread_tie_break_in_the_sql_is_reported(app, comparison, ties_to_the_last_key):
    made = helpers.dataset(helpers.platform(), TIED)
    allocation = pay_whole_pool(made, 100)
    assert amounts(allocation) == {"Zed": 33, "amy": 33, "bob": 34}  # the rule: Zed 34, amy 33, bob 33
    reverse_to(db.session, allocation, 50, key=helpers.unique("refund"))
    assert amounts(allocation, current=True) == {"Zed": 16, "amy": 17, "bob": 17}  # the rule: 17, 17, 16
    assert violations() == {
        "allocation recomputes from its lines": [{"allocation_id": allocation.id, "lines_differing": 2}],
        "reversals follow the rule": [{"allocation_id": allocation.id, "refunded_total": 50,
                                       "contributors_differing": 2}],
    }
    if comparison is not None:  # streamed: the ties made it read the lines in the database's byte order
        assert [(rule.pool, rule.needs_order) for rule in comparison] == [(100, True), (50, True)]


def test_a_reversal_crediting_a_contributor_without_a_line_is_reported(app, comparison):
    made = helpers.dataset(helpers.platform(), [("amy", "US", 1), ("bob", "US", 1)])
    helpers.add_records(made, [("outsider", "US", 3)], prefix="late-")  # after the freeze: no line
    allocation = pay_whole_pool(made, 100)
    amy, outsider = helpers.contributor(made, "amy").id, helpers.contributor(made, "outsider").id
    from marketplace.ledger import posting

    posting.post_transaction(db.session, key=helpers.unique("bad-credit"), kind="reversal", currency="usd",
                             allocation_id=allocation.id, refunded_total=0, reverses_id=allocation.transaction_id,
                             entries=[("contributor_payable", amy, -1), ("contributor_payable", outsider, 1)])
    assert violations() == {
        "reversals follow the rule": [
            {"allocation_id": allocation.id, "refunded_total": 0, "contributors_differing": 2}],
        # The forged credit also pays a third contributor the stored count never knew of.
        "contributors paid as counted": [{"allocation_id": allocation.id, "stored": 2, "counted": 3}],
    }
