"""Amounts people type, read exactly: `money.parse_major` and `format_major` are inverse on every
amount, and nothing with three decimals, a sign or a stray character is read as money."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.money import format_major, hundredths, parse_major


@given(st.integers(min_value=0, max_value=10**15))
def test_typed_amounts_round_trip(amount):
    assert parse_major(format_major(amount)) == amount
    whole, cents = divmod(amount, 100)
    assert parse_major(f"{whole:,}.{cents:02d}") == amount


@pytest.mark.parametrize(("typed", "minor"), [("49.99", 4999), ("49.9", 4990), ("49", 4900), ("0.01", 1),
                                              ("1,234,567.89", 123_456_789), ("$5", 500)])
def test_typed_amounts(typed, minor):
    assert parse_major(typed) == minor


@pytest.mark.parametrize("typed", ["49.999", "-1", "1.2.3", "12,34", "1,2345", "", " ", "4e3", "0x10", "½", "١٢"])
def test_what_is_not_an_amount(typed):
    assert hundredths(typed) is None
    with pytest.raises(ValueError, match="at most two decimals"):
        parse_major(typed)
