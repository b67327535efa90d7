"""The allocation invariants `ledger check` runs (registered with it in `create_app`).

Every posted line, and every contributor's current share after reversals, is compared with
`split.largest_remainder`, the rule's definition in pure Python; never with the SQL that wrote
it (sql.py), whose bug would otherwise check itself. The database only reads and counts here:
the arithmetic is Python's, on exact integers.

Memory stays flat whatever the ledger's size. Allocations are read in keyset batches, their
lines streamed (`yield_per`: a server-side cursor on PostgreSQL). An allocation of up to
`HELD_LINES` lines is held while it is compared, with `largest_remainder` itself. A larger one
(a payment over a million contributors) is never held: `StreamedRule` gives the same amounts
from two readings, one of its weight classes (to find where the leftover units run out) and one
of its lines in tie-break order; a heap of the top `leftover` remainders would have held up to
as many keys as there are lines.

:raise ValueError: (from the streamed comparison) the database did not return an allocation's
    lines in byte order of their tie-break keys, so the check can't tell who gets a unit.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import groupby

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from marketplace.allocation.models import Allocation
from marketplace.allocation.reversal import shares_for
from marketplace.allocation.split import largest_remainder
from marketplace.ledger.check import CheckResult, register_invariants
from marketplace.ledger.models import LedgerTransaction

#: Allocations read per batch (each batch's ids go in one IN list).
ALLOCATIONS_PER_BATCH = 500
#: An allocation with more lines than this is compared by `StreamedRule`, not held.
HELD_LINES = 20_000
#: Rows fetched at a time from a streamed query.
ROWS_PER_FETCH = 10_000
#: StreamedRule's remainder buckets per reading (and the most distinct remainders it counts exactly).
BUCKETS = 1 << 16


def check_allocations(session: Session, result: CheckResult) -> None:
    _allocations_add_up(session, result)
    _lines_recompute(session, result)
    _reversals_follow_rule(session, result)
    _paid_counts_recount(session, result)


def register() -> None:
    register_invariants("allocations", check_allocations)


def _allocations_add_up(session, result) -> None:
    """fee + platform + pool = gross, and the lines plus unallocated make the pool, as posted."""
    rows = session.execute(text(
        "SELECT a.id, a.fee, a.to_platform, a.pool, a.unallocated, a.gross, "
        "COALESCE(SUM(CASE WHEN e.weight IS NOT NULL THEN e.amount END), 0), "
        "COALESCE(SUM(CASE WHEN e.account = 'marketplace_fees' THEN e.amount END), 0), "
        "COALESCE(SUM(CASE WHEN e.account = 'platform_payable' THEN e.amount END), 0), "
        "COALESCE(SUM(CASE WHEN e.account = 'dataset_unallocated' THEN e.amount END), 0), "
        "COALESCE(SUM(CASE WHEN e.account = 'payment_clearing' THEN e.amount END), 0) "
        "FROM allocations a JOIN ledger_entries e ON e.transaction_id = a.transaction_id "
        "GROUP BY a.id, a.fee, a.to_platform, a.pool, a.unallocated, a.gross")).all()
    for (allocation_id, fee, to_platform, pool, unallocated, gross,
         lines, fee_posted, platform_posted, unallocated_posted, clearing) in rows:
        expected = (fee, to_platform, pool - unallocated, unallocated, -gross)
        posted = (int(fee_posted), int(platform_posted), int(lines), int(unallocated_posted), int(clearing))
        if fee + to_platform + pool != gross or expected != posted:
            result.add("allocation adds up", {"allocation_id": allocation_id,
                                              "expected": expected, "posted": posted})


def _paid_counts_recount(session, result) -> None:
    """Each allocation's latest stored count of contributors paid is the number of contributors
    whose lines and reversals net to a non-zero share (one pass over the allocations' lines)."""
    rows = session.execute(text(_PAID_COUNTS)).all()
    for allocation_id, stored, counted in rows:
        result.add("contributors paid as counted", {"allocation_id": allocation_id,
                                                    "stored": stored, "counted": int(counted)})


# Only the allocations whose stored count differs (or is missing) come back.
_PAID_COUNTS = """
WITH postings AS (
  SELECT id AS allocation_id, transaction_id FROM allocations
  UNION ALL
  SELECT allocation_id, id FROM ledger_transactions WHERE allocation_id IS NOT NULL
),
latest AS (
  SELECT c.allocation_id, c.contributors_paid FROM allocation_paid_counts c
  WHERE c.transaction_id = (SELECT MAX(transaction_id) FROM allocation_paid_counts l
                            WHERE l.allocation_id = c.allocation_id)
),
shares AS (
  SELECT p.allocation_id, e.owner_id, SUM(e.amount) AS amount
  FROM postings p JOIN ledger_entries e ON e.transaction_id = p.transaction_id
  WHERE e.account = 'contributor_payable'
  GROUP BY p.allocation_id, e.owner_id
),
counted AS (
  SELECT allocation_id, SUM(CASE WHEN amount <> 0 THEN 1 ELSE 0 END) AS n FROM shares GROUP BY allocation_id
)
SELECT a.id, latest.contributors_paid, COALESCE(counted.n, 0)
FROM allocations a
LEFT JOIN latest ON latest.allocation_id = a.id
LEFT JOIN counted ON counted.allocation_id = a.id
WHERE latest.contributors_paid IS NULL OR latest.contributors_paid <> COALESCE(counted.n, 0)
ORDER BY a.id
"""


# ---- lines as posted ---------------------------------------------------------------------------

def _lines_recompute(session, result) -> None:
    """Each allocation's posted lines are the rule's split of its pool by their own weights."""
    after = 0
    while batch := session.execute(
            select(Allocation.id, Allocation.transaction_id, Allocation.pool, Allocation.eligible_count)
            .where(Allocation.id > after).order_by(Allocation.id).limit(ALLOCATIONS_PER_BATCH)).all():
        after = batch[-1].id
        # With nobody eligible the pool went to the dataset: any line it has should be zero.
        pools = {row.id: row.pool if row.eligible_count else 0 for row in batch}
        by_source = {row.transaction_id: row.id for row in batch}
        held = [row.transaction_id for row in batch if row.eligible_count <= HELD_LINES]
        lines = _stream(session, _LINES_HELD, {"sources": held}) if held else iter(())
        differing, overflowed = _held_differences(
            ((by_source[source], pools[by_source[source]], owner, weight, key, amount)
             for source, owner, weight, key, amount in lines))
        for row in batch:
            if row.eligible_count > HELD_LINES or row.id in overflowed:
                differing[row.id] = _streamed_differences(session, row.transaction_id, pools[row.id])
        for allocation_id in sorted(allocation_id for allocation_id, count in differing.items() if count):
            result.add("allocation recomputes from its lines",
                       {"allocation_id": allocation_id, "lines_differing": differing[allocation_id]})


# Ordered by transaction: each allocation's lines arrive together (the (transaction, owner) index).
_LINES_HELD = text(
    "SELECT e.transaction_id, e.owner_id, e.weight, e.tiebreak, e.amount FROM ledger_entries e "
    "WHERE e.transaction_id IN :sources AND e.weight IS NOT NULL ORDER BY e.transaction_id"
).bindparams(bindparam("sources", expanding=True))


# ---- shares after reversals --------------------------------------------------------------------

def _reversals_follow_rule(session, result) -> None:
    """Each allocation's current shares equal the rule at its refunded total: fee, platform and
    unallocated by `split`, each contributor by `largest_remainder` over the allocation's lines."""
    after = 0
    corrected = LedgerTransaction.allocation_id  # set on reversals only
    while ids := session.scalars(select(corrected).where(corrected > after).group_by(corrected)
                                 .order_by(corrected).limit(ALLOCATIONS_PER_BATCH)).all():
        after = ids[-1]
        found: dict[int, list[dict]] = {}
        states = {}
        for row in session.execute(_SHARES, {"ids": ids}):
            states[row.id] = row
            expected = shares_for(row, row.refunded_total)
            want = (expected.fee, expected.to_platform, expected.unallocated)
            got = (int(row.fees), int(row.platform), int(row.unallocated))
            if got != want:
                found.setdefault(row.id, []).append({"allocation_id": row.id, "refunded_total": row.refunded_total,
                                                     "expected": want, "posted": got})
        for allocation_id, (refunded_total, count) in _contributors_off_rule(session, states).items():
            if count:
                found.setdefault(allocation_id, []).append({"allocation_id": allocation_id,
                                                            "refunded_total": refunded_total,
                                                            "contributors_differing": count})
        for allocation_id in sorted(found):
            for detail in found[allocation_id]:
                result.add("reversals follow the rule", detail)


# The latest reversal of each allocation sets its refunded total; it is read in the same statement
# as the amounts it is compared with (one snapshot, also under PostgreSQL's READ COMMITTED).
_LATEST = (
    "WITH latest AS (SELECT allocation_id, MAX(id) AS last_id FROM ledger_transactions "
    "WHERE allocation_id IN :ids GROUP BY allocation_id)"
)
_SHARES = text(
    _LATEST + ",\nposted AS ("
    "SELECT a.id AS allocation_id, e.account, e.amount FROM latest l JOIN allocations a ON a.id = l.allocation_id "
    "JOIN ledger_entries e ON e.transaction_id = a.transaction_id "
    "WHERE e.account IN ('marketplace_fees', 'platform_payable', 'dataset_unallocated') "
    "UNION ALL SELECT t.allocation_id, e.account, e.amount FROM latest l "
    "JOIN ledger_transactions t ON t.allocation_id = l.allocation_id JOIN ledger_entries e ON e.transaction_id = t.id "
    "WHERE e.account IN ('marketplace_fees', 'platform_payable', 'dataset_unallocated'))\n"
    "SELECT a.id, a.transaction_id, a.gross, a.fee_bps, a.contributor_share_bps, a.eligible_count, "
    "s.refunded_total, "
    "COALESCE(SUM(CASE WHEN p.account = 'marketplace_fees' THEN p.amount END), 0) AS fees, "
    "COALESCE(SUM(CASE WHEN p.account = 'platform_payable' THEN p.amount END), 0) AS platform, "
    "COALESCE(SUM(CASE WHEN p.account = 'dataset_unallocated' THEN p.amount END), 0) AS unallocated "
    "FROM latest l JOIN allocations a ON a.id = l.allocation_id JOIN ledger_transactions s ON s.id = l.last_id "
    "LEFT JOIN posted p ON p.allocation_id = a.id "
    "GROUP BY a.id, a.transaction_id, a.gross, a.fee_bps, a.contributor_share_bps, a.eligible_count, "
    "s.refunded_total ORDER BY a.id"
).bindparams(bindparam("ids", expanding=True))

# Every contributor's current amount: their line plus what the reversals posted for them.
_DELTAS = (
    "deltas AS (SELECT t.allocation_id, r.owner_id, SUM(r.amount) AS delta FROM latest l "
    "JOIN ledger_transactions t ON t.allocation_id = l.allocation_id JOIN ledger_entries r ON r.transaction_id = t.id "
    "WHERE r.account = 'contributor_payable' GROUP BY t.allocation_id, r.owner_id)"
)
_CURRENT_HELD = text(
    _LATEST + ",\n" + _DELTAS + "\n"
    "SELECT a.id, s.refunded_total, e.owner_id, e.weight, e.tiebreak, e.amount + COALESCE(d.delta, 0) "
    "FROM latest l JOIN allocations a ON a.id = l.allocation_id JOIN ledger_transactions s ON s.id = l.last_id "
    "JOIN ledger_entries e ON e.transaction_id = a.transaction_id AND e.weight IS NOT NULL "
    "LEFT JOIN deltas d ON d.allocation_id = a.id AND d.owner_id = e.owner_id ORDER BY a.id"
).bindparams(bindparam("ids", expanding=True))
# Contributors the reversals credited or debited without a line in the allocation: their share is 0.
_STRAYS = text(
    _LATEST + ",\n" + _DELTAS + "\n"
    "SELECT d.allocation_id, COUNT(*) FROM deltas d JOIN allocations a ON a.id = d.allocation_id "
    "WHERE d.delta <> 0 AND NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.transaction_id = a.transaction_id "
    "AND e.owner_id = d.owner_id AND e.weight IS NOT NULL) GROUP BY d.allocation_id"
).bindparams(bindparam("ids", expanding=True))


def _contributors_off_rule(session, states: dict) -> dict[int, tuple[int, int]]:
    """allocation id → (refunded total, how many contributors' current shares are off the rule)."""
    def target(allocation, refunded_total: int) -> int:
        return shares_for(allocation, refunded_total).pool if allocation.eligible_count else 0

    held = [allocation_id for allocation_id, state in states.items() if state.eligible_count <= HELD_LINES]
    refunded: dict[int, int] = {}
    pools: dict[int, int] = {}

    def lines():
        for allocation_id, refunded_total, owner, weight, key, amount in _stream(session, _CURRENT_HELD,
                                                                                  {"ids": held}):
            if allocation_id not in pools:
                refunded[allocation_id] = refunded_total
                pools[allocation_id] = target(states[allocation_id], refunded_total)
            yield allocation_id, pools[allocation_id], owner, weight, key, amount

    differing, overflowed = _held_differences(lines()) if held else ({}, set())
    found = {allocation_id: (refunded[allocation_id], count) for allocation_id, count in differing.items()}
    for allocation_id, state in states.items():
        if state.eligible_count > HELD_LINES or allocation_id in overflowed:
            # The refunded total comes with the id of the reversal that set it, and the deltas are
            # read up to that id: a reversal committed in between (a later id: reversals of one
            # allocation take its lock before their id) is left to the next check.
            last_id, refunded_total = session.execute(text(
                "SELECT id, refunded_total FROM ledger_transactions WHERE allocation_id = :allocation "
                "ORDER BY id DESC LIMIT 1"), {"allocation": allocation_id}).one()
            found[allocation_id] = (refunded_total, _streamed_differences(
                session, state.transaction_id, target(state, refunded_total),
                current_of=(allocation_id, last_id)))
    for allocation_id, strays in session.execute(_STRAYS, {"ids": list(states)}):
        refunded_total, count = found.get(allocation_id, (states[allocation_id].refunded_total, 0))
        found[allocation_id] = (refunded_total, count + int(strays))
    return found


# ---- comparing lines with the rule -------------------------------------------------------------

Line = tuple[int, int, int, int | None, str | None, int]  # (allocation, pool, owner, weight, key, amount)


def _held_differences(lines: Iterable[Line]) -> tuple[dict[int, int], set[int]]:
    """Lines grouped by allocation → (allocation → lines whose amount is not largest_remainder's,
    allocations left out because they had more than HELD_LINES lines)."""
    differing: dict[int, int] = {}
    overflowed: set[int] = set()
    for allocation_id, group in groupby(lines, key=lambda line: line[0]):
        held = []
        for line in group:
            if len(held) == HELD_LINES:
                overflowed.add(allocation_id)
                break
            held.append(line)
        if allocation_id in overflowed:
            continue  # groupby skips the rest of the group
        pool = held[0][1]
        expected = largest_remainder(pool, [(key or "", int(weight)) for _a, _p, _o, weight, key, _m in held])
        differing[allocation_id] = sum(int(line[5]) != amount for line, amount in zip(held, expected, strict=True))
    return differing, overflowed


def _streamed_differences(session, source: int, pool: int, *, current_of: tuple[int, int] | None = None) -> int:
    """How many lines of the allocation posted as `source` are off the rule for `pool`, read twice
    and never held (StreamedRule). With `current_of` (allocation id, last reversal id): compares each
    contributor's amount after the reversals up to that one instead of the line as posted."""
    rule = StreamedRule(pool, lambda: _stream(session, _WEIGHT_CLASSES, {"source": source}))
    if current_of is None:
        sql, params = _LINES_STREAMED, {"source": source}
    else:
        sql, params = _CURRENT_STREAMED, {"source": source, "allocation": current_of[0], "last_id": current_of[1]}
    if rule.needs_order:
        sql += " ORDER BY " + _byte_order(session, "COALESCE(e.tiebreak, '')")
    lines = _stream(session, text(sql), params)
    return sum(amount != by_rule for (_weight, _key, amount), by_rule in rule.amounts(lines))


_LINES_STREAMED = ("SELECT e.weight, e.tiebreak, e.amount FROM ledger_entries e "
                   "WHERE e.transaction_id = :source AND e.weight IS NOT NULL")
_CURRENT_STREAMED = (
    "WITH deltas AS (SELECT r.owner_id, SUM(r.amount) AS delta FROM ledger_transactions t "
    "JOIN ledger_entries r ON r.transaction_id = t.id WHERE t.allocation_id = :allocation "
    "AND t.id <= :last_id AND r.account = 'contributor_payable' GROUP BY r.owner_id)\n"
    "SELECT e.weight, e.tiebreak, e.amount + COALESCE(d.delta, 0) FROM ledger_entries e "
    "LEFT JOIN deltas d ON d.owner_id = e.owner_id WHERE e.transaction_id = :source AND e.weight IS NOT NULL"
)
_WEIGHT_CLASSES = text("SELECT weight, COUNT(*) FROM ledger_entries WHERE transaction_id = :source "
                       "AND weight IS NOT NULL GROUP BY weight")


def _stream(session, statement, params: dict):
    """Rows of `statement`, fetched ROWS_PER_FETCH at a time (a server-side cursor on PostgreSQL)."""
    return session.execute(statement, params, execution_options={"yield_per": ROWS_PER_FETCH})


def _byte_order(session, expression: str) -> str:
    """`expression` sorted byte by byte, as largest_remainder sorts tie-break keys: PostgreSQL's C
    collation (SQLite's default, BINARY, already is)."""
    return f'{expression} COLLATE "C"' if session.get_bind().dialect.name == "postgresql" else expression


class StreamedRule:
    """`largest_remainder(pool, lines)` over lines read twice instead of held: the same amounts
    (tests/allocation/test_check_independent.py holds the two to each other).

    A line's remainder, pool·weight mod W, depends only on its weight, so the first reading is of
    the weight classes, `classes()` → (weight, how many lines). It finds the leftover units and
    where they run out: every line whose remainder is above `rem` gets a unit, and of the `size`
    lines whose remainder is `rem`, the first `units` in byte order of their keys. Remainders are
    counted exactly while there are at most `buckets` distinct ones, else by bucket of equal
    width, and the classes are read again inside the bucket where the units run out, until one
    remainder is left: memory is bounded by `buckets` whatever the number of lines or weights,
    and after one reading for the total weight, weights below 2**40 take at most three more
    (2**40 → 2**24 → 2**8 remainders). The second reading is of the lines, `amounts()`, in byte
    order of their keys when the units run out inside a class (`needs_order`), else in any order.

    :raise ValueError: the weights add up to less than zero.
    """

    def __init__(self, pool: int, classes: Callable[[], Iterable[tuple[int, int]]], *,
                 buckets: int | None = None):
        self.pool = pool
        self.w_total = sum(int(weight) * int(count) for weight, count in classes())
        if self.w_total < 0:
            raise ValueError("the lines' weights add up to less than zero")
        self.rem, self.units, self.size = self.w_total, 0, 0  # nothing above the total: no unit
        if self.w_total:
            self._cut(classes, max(buckets or BUCKETS, 2))

    @property
    def needs_order(self) -> bool:
        return 0 < self.units < self.size

    def _cut(self, classes, buckets: int) -> None:
        low, high, above = 0, self.w_total, 0  # the cut's remainder is in [low, high); `above` lines past it
        leftover = None
        while True:
            width = -(-(high - low) // buckets)
            floors, counts, exact = 0, [0] * buckets, {}
            for weight, count in classes():
                base, rem = divmod(self.pool * int(weight), self.w_total)
                floors += base * int(count)
                if low <= rem < high:
                    counts[(rem - low) // width] += int(count)
                    if exact is not None:
                        exact[rem] = exact.get(rem, 0) + int(count)
                        exact = exact if len(exact) <= buckets else None
            if leftover is None:
                leftover = self.pool - floors
                if not leftover:
                    return
            if exact is not None:
                self.rem, above = _where_units_run_out(exact, above, leftover)
                self.units, self.size = leftover - above, exact[self.rem]
                return
            bucket, above = _where_units_run_out(dict(enumerate(counts)), above, leftover)
            low, high = low + bucket * width, min(high, low + (bucket + 1) * width)

    def amounts(self, lines: Iterable[tuple]) -> Iterator[tuple[tuple, int]]:
        """Each line with its amount by the rule, for lines (weight, key, …) in the order given.

        :raise ValueError: `needs_order` and the keys of the lines that share the cut's remainder
            are not in byte order.
        """
        pool, w_total, cut, units = self.pool, self.w_total, self.rem, self.units
        if not w_total:
            yield from ((line, 0) for line in lines)
            return
        ordered, given, previous = self.needs_order, 0, b""
        for line in lines:  # a million lines: kept to plain local arithmetic
            base, rem = divmod(pool * line[0], w_total)
            if rem > cut:
                base += 1
            elif rem == cut and units:
                if ordered:
                    encoded = (line[1] or "").encode()
                    if encoded < previous:
                        raise ValueError(f"lines not in byte order of their keys: {line[1]!r} after {previous!r}")
                    previous = encoded
                    if given < units:
                        base += 1
                    given += 1
                else:
                    base += 1
            yield line, base


def _where_units_run_out(counts: dict[int, int], above: int, leftover: int) -> tuple[int, int]:
    """The largest key of `counts` (a remainder or a bucket of them) at which the lines counted so
    far, from the largest down and after `above` others, reach `leftover`; and how many come before it."""
    for key in sorted(counts, reverse=True):
        if above + counts[key] >= leftover:
            return key, above
        above += counts[key]
    # Unreachable: the remainders add up to leftover · W, each below W, so the lines with one
    # outnumber the leftover units.
    raise AssertionError("the leftover units outnumber the lines")
