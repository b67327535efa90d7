"""SPEC.md's money rule, step 4, as set-based SQL:

    4. `pool` among the eligible contributors of the versions the license
       covers, in proportion to their weight (records or tokens, by the
       dataset's weighting rule), by the largest-remainder method: each gets
       the floor of their exact share, and the cents left over go one each to
       the largest remainders, ties broken by the contributor's external id
       ascending (byte order). The sum equals `pool` exactly. The same inputs
       always give the same split.

The definition is the pure-Python `split.largest_remainder`; everything here
computes the same numbers inside the database and is tested against it (and
`ledger check` compares posted lines with it, never with this SQL).

Both SQL forms share one overflow-free arithmetic, `exact_share`: SQLite
silently turns an overflowing integer product into a float, so pool·weight
is never formed. With pool = qW + r and weight = a·2^20 + b (r, weight < W < 2^40;
a, b < 2^20):
    pool·weight = W·(q·weight + x1·2^20) + y, where r·a = x1·W + x0 and y = x0·2^20 + r·b,
so floor = q·weight + x1·2^20 + y div W and remainder = y mod W; every
intermediate stays below 2^61.

- `SHARE_CHAIN` (PostgreSQL, and recomputation over an allocation's own lines)
  ranks the lines by remainder and tie-break key in one statement. Under READ
  COMMITTED each statement has its own snapshot, and eligibility must be read once.
- `CUTOFF_SQL` and `Cutoff` (SQLite) avoid ranking: a line's remainder depends
  only on its weight, so the leftover units go to whole remainder classes,
  largest first, and inside the one class where they run out, to the lowest
  tie-break keys. The class is found from the weights' histogram, its last key
  by one more query when it is split, and the lines are then written in one
  streaming pass. SQLite's windows buffer every line once per window and sort
  them all (ROW_NUMBER), which took most of a million-line allocation.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from sqlalchemy import text
from sqlalchemy.orm import Session

#: 2**20: weights are cut in two 20-bit halves so no product exceeds 2**61.
SPLIT = 1 << 20


def exact_share(weight: str, w_total: str, q: str, r: str) -> tuple[str, str]:
    """The floor and remainder of pool·weight / W as two SQL expressions, without an overflow,
    given q = pool div W and r = pool mod W (see the module's docstring)."""
    a, b = f"({weight} / {SPLIT})", f"({weight} % {SPLIT})"
    x1, x0 = f"(({r} * {a}) / {w_total})", f"(({r} * {a}) % {w_total})"
    y = f"({x0} * {SPLIT} + {r} * {b})"
    return f"({q} * {weight} + {x1} * {SPLIT} + {y} / {w_total})", f"({y} % {w_total})"


_CHAIN_BASE, _CHAIN_REM = exact_share("weight", "w_total", "q", "r")

# The lines come from a CTE `totals(contributor_id, weight, tiebreak, w_total)`; the chain
# defines `{name}(contributor_id, weight, tiebreak, amount)` for the pool `:pool_{name}`.
SHARE_CHAIN = """
{name}_parts AS (
  SELECT contributor_id, weight, tiebreak, w_total, :pool_{name} / w_total AS q, :pool_{name} % w_total AS r
  FROM totals
),
{name}_exact AS (
  SELECT contributor_id, weight, tiebreak, """ + _CHAIN_BASE + """ AS base, """ + _CHAIN_REM + """ AS rem
  FROM {name}_parts
),
{name}_ranked AS (
  SELECT contributor_id, weight, tiebreak, base,
         ROW_NUMBER() OVER (ORDER BY rem DESC, tiebreak{collate} ASC) AS rn,
         CAST(SUM(base) OVER () AS BIGINT) AS base_total
  FROM {name}_exact
),
{name} AS (
  SELECT contributor_id, weight, tiebreak,
         base + CASE WHEN rn <= :pool_{name} - base_total THEN 1 ELSE 0 END AS amount
  FROM {name}_ranked
)"""

# An allocation's own lines as the share chain's input: recomputing never needs the records.
# (CAST: PostgreSQL's SUM over BIGINT is NUMERIC, and NUMERIC division is not integer division.)
LINES_TOTALS = (
    "WITH totals AS (SELECT owner_id AS contributor_id, weight, tiebreak, "
    "CAST(SUM(weight) OVER () AS BIGINT) AS w_total FROM ledger_entries "
    "WHERE transaction_id = :source AND weight > 0)"
)


#: PostgreSQL's memory for each sort and window of one share-chain statement (see `sort_memory`).
SORT_MEMORY = "256MB"


@contextmanager
def sort_memory(session: Session) -> Iterator[None]:
    """On PostgreSQL, let one share-chain statement sort in memory: it ranks every line (a million
    contributors are about 100 MB of sort keys), and the server's default work_mem (4 MB) sent the
    sort and the windows to temporary files. The setting is this transaction's, and goes back to
    what it was once the statement has run. Nothing to do on SQLite."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    before = session.execute(text("SELECT current_setting('work_mem')")).scalar_one()
    session.execute(text("SELECT set_config('work_mem', :value, true)"), {"value": SORT_MEMORY})
    yield
    # Not in a `finally`: after a failed statement the transaction is aborted (any statement would
    # raise and hide the real error), and its rollback takes the setting back anyway.
    session.execute(text("SELECT set_config('work_mem', :value, true)"), {"value": before})


def share_chain(session: Session, name: str) -> str:
    """SHARE_CHAIN for the pool `:pool_{name}`, with tie-break keys compared in byte order."""
    collate = ' COLLATE "C"' if session.get_bind().dialect.name == "postgresql" else ""
    return SHARE_CHAIN.format(name=name, collate=collate)


#: SQLite only (see the module's docstring): the one remainder class where the leftover units run out.
CUTOFF_SQL = """,
weight_classes AS (SELECT weight, COUNT(*) AS n FROM lines GROUP BY weight),
class_totals AS (
  SELECT weight, n, SUM(weight * n) OVER () AS w_total, SUM(n) OVER () AS n_total FROM weight_classes
),
class_parts AS (SELECT weight, n, w_total, n_total, :pool / w_total AS q, :pool % w_total AS r FROM class_totals),
class_shares AS (SELECT n, w_total, n_total, {base} AS base, {rem} AS rem FROM class_parts),
remainders AS (
  SELECT rem, SUM(n) AS n, SUM(base * n) AS base_sum, MAX(w_total) AS w_total, MAX(n_total) AS n_total
  FROM class_shares GROUP BY rem
),
cumulative AS (
  SELECT rem, n, w_total, n_total, :pool - SUM(base_sum) OVER () AS leftover,
         SUM(n) OVER (ORDER BY rem DESC ROWS UNBOUNDED PRECEDING) - n AS above
  FROM remainders
)
SELECT w_total, n_total, leftover, rem, n, leftover - above AS units FROM cumulative
WHERE (above < leftover AND leftover <= above + n) OR (leftover = 0 AND above = 0)""".format(
    base=_CHAIN_BASE, rem=_CHAIN_REM)


@dataclass(frozen=True)
class Cutoff:
    """Where one pool's leftover units stop among a set of lines (weight, tiebreak), on SQLite."""

    name: str
    pool: int
    w_total: int
    #: Lines with a larger remainder get a unit; lines with this one, see `units`.
    rem: int
    #: How many lines of the `rem` class get a unit: none, all of them (`whole`), or those up to
    #: `tiebreak` in byte order.
    units: int
    whole: bool
    tiebreak: str | None = None
    #: How many lines there are.
    n_total: int = 0

    def params(self) -> dict:
        q, r = divmod(self.pool, self.w_total)
        n = self.name
        return {f"w_{n}": self.w_total, f"q_{n}": q, f"r_{n}": r, f"rem_{n}": self.rem, f"key_{n}": self.tiebreak}

    def exact_sql(self) -> tuple[str, str]:
        """A line's floor and remainder (columns weight, tiebreak), in the terms of `params`."""
        n = self.name
        return exact_share("weight", f":w_{n}", f":q_{n}", f":r_{n}")

    def amount_sql(self) -> str:
        base, rem = self.exact_sql()
        n = self.name
        if not self.units:
            return base
        if self.whole:
            return f"{base} + CASE WHEN {rem} >= :rem_{n} THEN 1 ELSE 0 END"
        return f"{base} + CASE WHEN {rem} > :rem_{n} OR ({rem} = :rem_{n} AND tiebreak <= :key_{n}) THEN 1 ELSE 0 END"


def find_cutoff(session: Session, compile_sql, prefix: str, params: dict, name: str, pool: int) -> Cutoff | None:
    """Where `pool`'s leftover units stop among the lines `prefix` defines; None when there are none.

    `prefix` is a WITH clause defining `lines(contributor_id, weight, tiebreak)`, weights > 0 and
    tie-break keys distinct (contributors' external ids, one platform).
    """
    found = session.execute(compile_sql(prefix + CUTOFF_SQL), {**params, "pool": pool}).one_or_none()
    if found is None:
        return None
    w_total, n_total, _leftover, cut_rem, class_size, units = (int(value) for value in found)
    cut = Cutoff(name, pool, w_total, cut_rem, units, whole=units == class_size, n_total=n_total)
    if not cut.units or cut.whole:
        return cut
    # The class is split: its first `units` keys in byte order get a unit.
    last_key = session.execute(compile_sql(
        f"{prefix}\nSELECT tiebreak FROM lines WHERE {cut.exact_sql()[1]} = :rem_{name} "
        "ORDER BY tiebreak LIMIT 1 OFFSET :skip"
    ), {**params, **cut.params(), "skip": units - 1}).scalar_one()
    return replace(cut, tiebreak=last_key)
