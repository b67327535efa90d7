"""Invariants 2 and 3 on the pure rule (Hypothesis), and the SPEC's worked numbers."""
from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.ledger.split import largest_remainder, split

amounts = st.integers(min_value=0, max_value=10**12)
bps = st.integers(min_value=0, max_value=10_000)


@given(amounts, bps, bps)
def test_fee_platform_and_pool_add_up_to_the_gross(gross, fee_bps, share_bps):
    fee, to_platform, pool = split(gross, fee_bps, share_bps)
    assert fee + to_platform + pool == gross
    assert fee == gross * fee_bps // 10_000
    assert pool == (gross - fee) * share_bps // 10_000
    assert min(fee, to_platform, pool) >= 0


def test_the_worked_example():
    assert split(100_001, 500, 5000) == (5000, 47501, 47500)
    assert largest_remainder(10, [("a", 1), ("b", 1), ("c", 1)]) == [4, 3, 3]
    assert largest_remainder(1, [("b", 3), ("a", 1)]) == [1, 0]   # the larger remainder wins
    assert largest_remainder(1, [("b", 1), ("a", 1)]) == [0, 1]   # a tie goes to the smaller key


weights = st.lists(st.tuples(st.text(min_size=1, max_size=6), st.integers(min_value=0, max_value=10**12)),
                   min_size=1, max_size=40, unique_by=lambda pair: pair[0]).filter(
    lambda pairs: sum(w for _k, w in pairs) <= 10**12)


@settings(max_examples=300)
@given(amounts, weights)
def test_each_share_is_floor_or_ceiling_and_they_sum_to_the_pool(pool, pairs):
    shares = largest_remainder(pool, pairs)
    total = sum(w for _k, w in pairs)
    if total == 0:
        assert shares == [0] * len(pairs)
        return
    assert sum(shares) == pool
    for (_key, weight), share in zip(pairs, shares, strict=True):
        quota = Fraction(pool * weight, total)
        assert share in (quota.numerator // quota.denominator, -(-quota.numerator // quota.denominator))
        if weight == 0:
            assert share == 0


@given(amounts, weights, st.randoms())
def test_the_split_does_not_depend_on_row_order(pool, pairs, rng):
    shuffled = list(pairs)
    rng.shuffle(shuffled)
    assert dict(zip([k for k, _ in shuffled], largest_remainder(pool, shuffled), strict=True)) == \
        dict(zip([k for k, _ in pairs], largest_remainder(pool, pairs), strict=True))


@given(st.integers(min_value=1, max_value=50), st.integers(min_value=2, max_value=30))
def test_ties_go_to_the_smaller_key_in_byte_order(pool, n):
    keys = [f"k{i}" for i in range(n)]
    shares = largest_remainder(pool, [(key, 1) for key in keys])
    winners = sorted(keys, key=str.encode)[: pool % n]
    assert {key for key, share in zip(keys, shares, strict=True) if share > pool // n} == set(winners)
