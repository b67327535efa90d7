"""SPEC.md's price rules, as properties of `price_amount` (integers only, never below 50)."""
from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from marketplace.catalog.offers import MIN_PRICE, price_amount

amounts = st.integers(min_value=1, max_value=10**12)  # wider than the schema's: the rule has no ceiling
counts = st.integers(min_value=0, max_value=10**15)
huge = st.integers(min_value=10**15, max_value=10**30)


def oracle(model: str, amount: int, records: int, tokens: int) -> int:
    """The rule written with exact fractions: another road to the same integers."""
    raw = {
        "flat": Fraction(amount),
        "per_1k_records": Fraction(amount * records, 1000),
        "per_1m_tokens": Fraction(amount * tokens, 1_000_000),
    }[model]
    return max(math.ceil(raw), 50)


def test_the_minimum_is_the_processors_50():
    assert MIN_PRICE == 50


@pytest.mark.parametrize(("model", "amount", "records", "tokens", "price"), [
    ("flat", 100_000, 0, 0, 100_000),
    ("flat", 49, 10, 10, 50),
    ("flat", 50, 10, 10, 50),
    ("per_1k_records", 333, 1001, 0, 334),
    ("per_1k_records", 1000, 1000, 0, 1000),
    ("per_1k_records", 1000, 1001, 0, 1001),
    ("per_1k_records", 1, 1, 0, 50),
    ("per_1k_records", 10**12, 0, 10**9, 50),  # no records: the minimum
    ("per_1m_tokens", 1_000_001, 0, 1000, 1001),
    ("per_1m_tokens", 999_999, 0, 1_000_001, 1_000_000),  # 999999.999999 rounds up
    ("per_1m_tokens", 7, 10**9, 1, 50),
    # Where a float would lose the last unit: 10**12 * (10**15 + 1) / 1000 is exact in integers.
    ("per_1k_records", 10**12, 10**15 + 1, 0, 10**24 + 10**9),
    # (10**12 - 1) * (10**18 + 7) / 10**6 = 10**24 - 10**12 + 7 * 10**6 - 0.000007: rounds up to an integer.
    ("per_1m_tokens", 10**12 - 1, 0, 10**18 + 7, 10**24 - 10**12 + 7 * 10**6),
])
def test_known_prices(model, amount, records, tokens, price):
    result = price_amount(model, amount, records, tokens)
    assert result == price and type(result) is int


@given(amount=amounts, records=counts, tokens=counts)
def test_flat_is_the_amount_whatever_the_counts(amount, records, tokens):
    assert price_amount("flat", amount, records, tokens) == max(amount, 50)


@given(amount=amounts, records=counts, tokens=counts)
@example(amount=333, records=1001, tokens=0)
def test_per_1k_records_rounds_up_the_exact_price(amount, records, tokens):
    price = price_amount("per_1k_records", amount, records, tokens)
    assert price == oracle("per_1k_records", amount, records, tokens)
    # The smallest integer covering amount * records / 1000, unless the minimum applies.
    assert price * 1000 >= amount * records
    assert price == 50 or (price - 1) * 1000 < amount * records


@given(amount=amounts, records=counts, tokens=counts)
def test_per_1m_tokens_rounds_up_the_exact_price(amount, records, tokens):
    price = price_amount("per_1m_tokens", amount, records, tokens)
    assert price == oracle("per_1m_tokens", amount, records, tokens)
    assert price * 1_000_000 >= amount * tokens
    assert price == 50 or (price - 1) * 1_000_000 < amount * tokens


@given(model=st.sampled_from(["flat", "per_1k_records", "per_1m_tokens"]), amount=amounts, records=counts,
       tokens=counts)
def test_never_below_50_and_always_an_int(model, amount, records, tokens):
    price = price_amount(model, amount, records, tokens)
    assert price >= 50 and type(price) is int


@given(amount=st.integers(min_value=1, max_value=10**30), records=huge, tokens=huge)
def test_exact_for_huge_values(amount, records, tokens):
    for model in ("per_1k_records", "per_1m_tokens"):
        assert price_amount(model, amount, records, tokens) == oracle(model, amount, records, tokens)


@given(amount=amounts, records=counts, more=st.integers(min_value=0, max_value=10**6))
def test_more_records_never_cost_less(amount, records, more):
    assert price_amount("per_1k_records", amount, records + more, 0) >= \
        price_amount("per_1k_records", amount, records, 0)


def test_an_unknown_model_is_refused():
    with pytest.raises(ValueError, match="unknown price model 'per_record'"):
        price_amount("per_record", 100, 1, 1)
