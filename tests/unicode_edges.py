"""Hypothesis strategies for hostile input: unicode edge cases, wrong types, huge numbers and fields.

Shared by the fuzz tests of the importers, the payout results CSV and the webhook.
"""
from __future__ import annotations

import json

from hypothesis import strategies as st

#: Characters that break naive code: NUL, a BOM, right-to-left marks and overrides, a lone
#: surrogate of each half, a zero-width joiner, a line and a paragraph separator, a combining mark,
#: an astral character, and the last code point.
EDGES = ["\x00", "\ufeff", "\u200f", "\u202e", "\ud800", "\udfff", "\u200d", "\u2028", "\u2029",
         "\u0301", "\U0001f600", "\U0010ffff", "\r", "\n", '"', ","]

AWKWARD_TEXT = st.lists(st.sampled_from(EDGES) | st.text(max_size=5), max_size=8).map("".join)

#: Integers at and past the database's 64 bits, and at the edges of 32.
BIG_INTS = st.sampled_from([0, -1, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1]) | st.integers()

SCALARS = (st.none() | st.booleans() | BIG_INTS | st.floats(allow_nan=False) | AWKWARD_TEXT
           | st.text(max_size=20))

json_values = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


def json_bytes(value) -> bytes:
    """JSON text for `value`, lone surrogates written as \\ud800 escapes (which orjson refuses to
    write, and a careless parser chokes on)."""
    return json.dumps(value, ensure_ascii=True).encode()
