"""SPEC.md's money rules as pure integer functions: the reference the SQL must agree with.

`split` divides a gross into fee, platform share and contributor pool;
`largest_remainder` divides a pool among weights. The set-based SQL in
`sql.py` computes the same thing inside the database; the tests hold
the two to each other.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

BPS = 10_000
#: Exactness limits of the SQL form (see sql.exact_share): every product stays below 2**63.
MAX_TOTAL_WEIGHT = 2**40 - 1
MAX_AMOUNT = 2**62


class Split(NamedTuple):
    fee: int
    to_platform: int
    pool: int


def split(gross: int, fee_bps: int, contributor_share_bps: int) -> Split:
    """fee = floor(G·fee/1e4); net = G − fee; pool = floor(net·share/1e4); platform = net − pool."""
    if gross < 0:
        raise ValueError("gross must be 0 or more")
    fee = gross * fee_bps // BPS
    net = gross - fee
    pool = net * contributor_share_bps // BPS
    return Split(fee=fee, to_platform=net - pool, pool=pool)


def largest_remainder(pool: int, weighted: Sequence[tuple[str, int]]) -> list[int]:
    """Divide `pool` by weight: floors first, then one unit each to the largest remainders.

    `weighted` holds (tie-break key, weight); ties go to the key that sorts first
    in byte order. The result is in input order and does not depend on it.
    """
    total = sum(weight for _key, weight in weighted)
    if total == 0:
        return [0] * len(weighted)
    parts = [divmod(pool * weight, total) for _key, weight in weighted]
    leftover = pool - sum(base for base, _rem in parts)
    order = sorted(range(len(weighted)), key=lambda i: (-parts[i][1], weighted[i][0].encode()))
    amounts = [base for base, _rem in parts]
    for i in order[:leftover]:
        amounts[i] += 1
    return amounts
