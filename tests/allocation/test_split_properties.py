"""Invariants 2 and 3 on the pure rule (split.py), with Hypothesis, and SPEC.md's worked numbers."""
from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from marketplace.allocation.split import largest_remainder, split

LIMIT = 10**12
amounts = st.integers(min_value=0, max_value=LIMIT)
bps = st.integers(min_value=0, max_value=10_000)


def _capped(weights: list[int]) -> list[int]:
    """Scale a list of weights down so it totals at most 10^12 (ties and zeros survive)."""
    total = sum(weights)
    return weights if total <= LIMIT else [w * LIMIT // total for w in weights]


#: Weights up to 10^12 in total, often zero or tied (ties are where the tie-break matters).
weight_lists = st.lists(
    st.one_of(st.just(0), st.sampled_from([1, 2, 3, 7]), st.integers(min_value=0, max_value=LIMIT)),
    min_size=1, max_size=40,
).map(_capped)
#: Tie-break keys: arbitrary text, so byte order differs from case-folded or locale order.
keys = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=5)


@st.composite
def weighted(draw) -> list[tuple[str, int]]:
    weights = draw(weight_lists)
    names = draw(st.lists(keys, min_size=len(weights), max_size=len(weights), unique=True))
    return list(zip(names, weights, strict=True))


def floor_ceil(pool: int, weight: int, total: int) -> tuple[int, int]:
    quota = Fraction(pool * weight, total)
    return quota.numerator // quota.denominator, -(-quota.numerator // quota.denominator)


# ---- split: fee, platform, pool ---------------------------------------------------------------

@given(amounts, bps, bps)
def test_fee_platform_and_pool_add_up_to_the_gross(gross, fee_bps, share_bps):
    fee, to_platform, pool = split(gross, fee_bps, share_bps)
    assert fee + to_platform + pool == gross
    assert fee == gross * fee_bps // 10_000
    assert pool == (gross - fee) * share_bps // 10_000
    assert to_platform == gross - fee - pool
    assert min(fee, to_platform, pool) >= 0


def test_the_worked_example():
    # 100,001 at 5 %: fee floor(5000.05) = 5000; net 95,001; half of it floored: pool 47,500.
    assert split(100_001, 500, 5000) == (5000, 47501, 47500)
    assert split(0, 500, 5000) == (0, 0, 0)
    assert split(1, 10_000, 5000) == (1, 0, 0)
    assert split(99, 0, 10_000) == (0, 0, 99)
    with pytest.raises(ValueError):
        split(-1, 500, 5000)


def test_worked_largest_remainders():
    assert largest_remainder(47_500, [("ann", 3), ("bob", 3), ("cat", 1)]) == [20357, 20357, 6786]
    assert largest_remainder(10, [("a", 1), ("b", 1), ("c", 1)]) == [4, 3, 3]
    assert largest_remainder(1, [("b", 3), ("a", 1)]) == [1, 0]    # the larger remainder wins
    assert largest_remainder(1, [("b", 1), ("a", 1)]) == [0, 1]    # a tie goes to the smaller key
    assert largest_remainder(1, [("a", 1), ("B", 1)]) == [0, 1]    # byte order: "B" < "a"
    assert largest_remainder(1, [("é", 1), ("z", 1)]) == [0, 1]    # b"\xc3\xa9" > b"z"
    assert largest_remainder(5, [("a", 0), ("b", 0)]) == [0, 0]    # nobody to pay
    assert largest_remainder(10**12, [("x", 10**12 - 1), ("y", 1)]) == [10**12 - 1, 1]


# ---- largest remainder: the properties that pin it down ----------------------------------------

@settings(max_examples=300)
@given(amounts, weighted())
@example(10**12, [("a", 333_333_333_333), ("b", 333_333_333_334), ("c", 333_333_333_333)])
@example(10**12 - 1, [("k", 10**12), ("j", 0)])
def test_each_share_is_the_floor_or_ceiling_of_its_quota_and_they_sum_to_the_pool(pool, pairs):
    shares = largest_remainder(pool, pairs)
    total = sum(w for _k, w in pairs)
    assert len(shares) == len(pairs)
    if total == 0:
        assert shares == [0] * len(pairs)
        return
    assert sum(shares) == pool
    for (_key, weight), share in zip(pairs, shares, strict=True):
        assert share in floor_ceil(pool, weight, total)
        if weight == 0:
            assert share == 0


@settings(max_examples=300)
@given(amounts, weighted())
def test_the_extra_units_go_to_the_largest_remainders_then_the_smaller_key(pool, pairs):
    """Whoever got a unit above their floor has a larger remainder than whoever did not, or the
    same remainder and a key earlier in byte order. With the sum, this fixes the result."""
    total = sum(w for _k, w in pairs)
    if total == 0:
        return
    shares = largest_remainder(pool, pairs)
    rows = []
    for (key, weight), share in zip(pairs, shares, strict=True):
        floor = pool * weight // total
        rows.append((key.encode(), (pool * weight) % total, share - floor))
    assert {extra for _k, _r, extra in rows} <= {0, 1}
    for key_up, rem_up, extra_up in rows:
        if not extra_up:
            continue
        assert rem_up > 0
        for key_down, rem_down, extra_down in rows:
            if not extra_down:
                assert rem_up > rem_down or (rem_up == rem_down and key_up < key_down), (key_up, key_down)


@given(amounts, weighted(), st.randoms(use_true_random=False))
def test_the_result_does_not_depend_on_input_order(pool, pairs, rng):
    shuffled = list(pairs)
    rng.shuffle(shuffled)
    by_key = dict(zip([k for k, _ in pairs], largest_remainder(pool, pairs), strict=True))
    assert dict(zip([k for k, _ in shuffled], largest_remainder(pool, shuffled), strict=True)) == by_key


@given(st.integers(min_value=0, max_value=LIMIT), st.lists(keys, min_size=2, max_size=30, unique=True))
def test_equal_weights_break_ties_by_key_in_byte_order(pool, names):
    shares = largest_remainder(pool, [(name, 1) for name in names])
    base, extra = divmod(pool, len(names))
    winners = set(sorted(names, key=str.encode)[:extra])
    assert {name: share for name, share in zip(names, shares, strict=True)} == {
        name: base + (name in winners) for name in names}


@given(amounts, weighted(), st.integers(min_value=1, max_value=10))
def test_scaling_every_weight_changes_nothing(pool, pairs, factor):
    """Only proportions count: the exact quotas, and so the split, are the same."""
    if sum(w for _k, w in pairs) * factor > LIMIT:
        factor = 1
    scaled = [(key, weight * factor) for key, weight in pairs]
    assert largest_remainder(pool, scaled) == largest_remainder(pool, pairs)
