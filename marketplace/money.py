"""Money: an integer of minor units and an ISO 4217 currency, never a float."""
from __future__ import annotations

import re
from dataclasses import dataclass


class CurrencyMismatch(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError(f"Money amounts are integers of minor units, got {self.amount!r}")
        if len(self.currency) != 3 or not self.currency.islower():
            raise ValueError(f"Currency must be a lower-case ISO 4217 code, got {self.currency!r}")

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} do not mix")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def as_dict(self) -> dict:
        return {"amount": self.amount, "currency": self.currency}

    def __str__(self) -> str:
        sign = "-" if self.amount < 0 else ""
        whole, cents = divmod(abs(self.amount), 100)
        return f"{sign}{whole:,}.{cents:02d} {self.currency.upper()}"


def ceil_div(numerator: int, denominator: int) -> int:
    """Integer ceiling division, exact for any size (no float on the way)."""
    return -(-numerator // denominator)


#: "49.99", "1,234.5", "12" (major units, a dot for the decimals, commas between thousands).
MAJOR_UNITS = re.compile(r"^(?P<whole>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<cents>\d{1,2}))?$", re.ASCII)


def hundredths(text: str) -> int | None:
    """A typed decimal with at most two decimals, in hundredths ("49.99" → 4999, "62.5" → 6250),
    exactly (no float); None when it isn't one."""
    match = MAJOR_UNITS.match((text or "").strip())
    if match is None:
        return None
    return int(match["whole"].replace(",", "")) * 100 + int((match["cents"] or "0").ljust(2, "0"))


def parse_major(text: str) -> int:
    """Minor units from an amount people type in major units ("49.99" → 4999), exactly (no float).

    :raise ValueError: not an amount with at most two decimals (the message says what to type).
    """
    amount = hundredths((text or "").strip().lstrip("$€£"))
    if amount is None:
        raise ValueError("Type an amount like 49.99 (at most two decimals).")
    return amount


def format_major(amount: int) -> str:
    """Minor units as people type them back ("4999" → "49.99"), for pre-filled form fields."""
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole}.{cents:02d}"
