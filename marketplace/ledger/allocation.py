"""Allocating a payment, and reversing it by recomputation, as set-based SQL.

`allocate_payment` decides eligibility as of the payment (consent.eligibility),
splits the gross (split.split) and writes one ledger entry per eligible
contributor straight from an INSERT … SELECT over the version's frozen
weights: no Python object per contributor, each credit written once. The
entry is the allocation's line (weight, tie-break key, amount), so the
allocation can be recomputed from its own rows after records are erased.

`reverse_to` applies refunds and disputes by SPEC.md's rule: once refunds total
C, every share equals the rule applied to G − C with the original eligibility
and weights; each reversal posts the difference from the previous state.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from marketplace.catalog.models import Dataset, DatasetVersion
from marketplace.consent.eligibility import EligibilityQuestion, bind, eligible_sql
from marketplace.errors import Invalid
from marketplace.ledger import posting
from marketplace.ledger.models import MARKETPLACE, Allocation, LedgerEntry, LedgerTransaction
from marketplace.ledger.split import BPS, MAX_AMOUNT, MAX_TOTAL_WEIGHT, split

#: 2**20: weights are cut in two 20-bit halves so no product exceeds 2**61 (see SHARE_CHAIN).
SPLIT = 1 << 20

# Each line's exact share of :pool_NAME over the total weight W, without an integer
# overflow: SQLite silently turns an overflowing product into a float. With
# pool = qW + r and weight = a·2^20 + b (r, weight < W < 2^40; a, b < 2^20):
#   pool·weight = W·(q·weight + x1·2^20) + y, where r·a = x1·W + x0 and y = x0·2^20 + r·b,
# so floor = q·weight + x1·2^20 + y div W and remainder = y mod W; every
# intermediate stays below 2^61. Then the floors, plus one unit to the
# `pool − Σ floors` largest remainders (ties: tie-break key in byte order).
SHARE_CHAIN = """
{name}_parts AS (
  SELECT contributor_id, weight, tiebreak, w_total,
         (:pool_{name} / w_total) * weight AS q_w, :pool_{name} % w_total AS r,
         weight / {split} AS a, weight % {split} AS b
  FROM totals
),
{name}_step AS (
  SELECT contributor_id, weight, tiebreak, w_total, q_w, r, b,
         (r * a) / w_total AS x1, (r * a) % w_total AS x0
  FROM {name}_parts
),
{name}_exact AS (
  SELECT contributor_id, weight, tiebreak,
         q_w + x1 * {split} + (x0 * {split} + r * b) / w_total AS base,
         (x0 * {split} + r * b) % w_total AS rem
  FROM {name}_step
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


def _share_chain(session: Session, name: str) -> str:
    collate = ' COLLATE "C"' if session.get_bind().dialect.name == "postgresql" else ""
    return SHARE_CHAIN.format(name=name, split=SPLIT, collate=collate)


# SQLite: the same rule without ranking the lines. A line's remainder depends only on its
# weight, so the leftover units go to whole remainder classes, largest first, and inside the
# one class where they run out, to the lowest tie-break keys. CUTOFF_SQL finds that class from
# the weights' histogram, one more query its last key when it is split, and the lines are then
# written in one streaming pass. SQLite's windows buffer every line once per window and sort
# them all (ROW_NUMBER), which took most of a million-line allocation; this avoids both.
# PostgreSQL keeps SHARE_CHAIN's single statement: under READ COMMITTED each statement has its
# own snapshot, and eligibility must be read once. (SQLite: the writer holds the write lock.)
#: SQLite only (see above): the one remainder class where the leftover units run out.
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
WHERE (above < leftover AND leftover <= above + n) OR (leftover = 0 AND above = 0)"""


def _exact(weight: str, w_total: str, q: str, r: str) -> tuple[str, str]:
    """SHARE_CHAIN's overflow-free floor and remainder of pool·weight / W, as two SQL expressions,
    given q = pool div W and r = pool mod W."""
    a, b = f"({weight} / {SPLIT})", f"({weight} % {SPLIT})"
    x1, x0 = f"(({r} * {a}) / {w_total})", f"(({r} * {a}) % {w_total})"
    y = f"({x0} * {SPLIT} + {r} * {b})"
    return f"({q} * {weight} + {x1} * {SPLIT} + {y} / {w_total})", f"({y} % {w_total})"


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
        return _exact("weight", f":w_{n}", f":q_{n}", f":r_{n}")

    def amount_sql(self) -> str:
        base, rem = self.exact_sql()
        n = self.name
        if not self.units:
            return base
        if self.whole:
            return f"{base} + CASE WHEN {rem} >= :rem_{n} THEN 1 ELSE 0 END"
        return f"{base} + CASE WHEN {rem} > :rem_{n} OR ({rem} = :rem_{n} AND tiebreak <= :key_{n}) THEN 1 ELSE 0 END"


def _cutoff(session: Session, compile_sql, prefix: str, params: dict, name: str, pool: int) -> Cutoff | None:
    """Where `pool`'s leftover units stop among the lines `prefix` defines; None when there are none.

    `prefix` is a WITH clause defining `lines(contributor_id, weight, tiebreak)`, weights > 0 and
    tie-break keys distinct (contributors' external ids, one platform).
    """
    base, rem = _exact("weight", "w_total", "q", "r")
    found = session.execute(compile_sql(prefix + CUTOFF_SQL.format(base=base, rem=rem)),
                            {**params, "pool": pool}).one_or_none()
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


@dataclass(frozen=True)
class PaymentFacts:
    """A payment to allocate, as the caller (licensing) knows it."""

    key: str                        # idempotency key, e.g. "payment:pi_…"
    dataset_id: int
    version_ids: tuple[int, ...]
    scopes: tuple[str, ...]
    gross: int
    currency: str
    contributor_share_bps: int
    paid_at: datetime
    license_id: int | None = None

    def payload(self) -> dict:
        return {
            "dataset_id": self.dataset_id, "version_ids": sorted(self.version_ids),
            "scopes": sorted(set(self.scopes)), "gross": self.gross, "currency": self.currency,
            "contributor_share_bps": self.contributor_share_bps,
            "paid_at": self.paid_at.isoformat(), "license_id": self.license_id,
        }


def allocate_payment(
    session: Session, facts: PaymentFacts, *, fee_bps: int, opt_in_regions: frozenset[str]
) -> Allocation:
    """Split and post one payment; replaying the same facts returns the stored allocation.

    :raise Conflict: the key was used for different facts.
    :raise Invalid: bad amount or rates, no scopes, an unknown dataset or version, or weights
        beyond the exact range.
    """
    _check_facts(facts, fee_bps)
    existing = session.scalar(select(Allocation).where(Allocation.payment_key == facts.key))
    if existing is not None:
        posting.open_transaction(session, key=facts.key, payload=facts.payload(), kind="allocation")
        return existing
    dataset = session.scalar(select(Dataset).where(Dataset.id == facts.dataset_id).with_for_update(of=Dataset))
    if dataset is None:
        raise Invalid("No such dataset.", {"dataset_id": ["Unknown dataset."]})
    versions = session.scalars(
        select(DatasetVersion).where(
            DatasetVersion.id.in_(facts.version_ids), DatasetVersion.dataset_id == dataset.id
        )
    ).all()
    if not versions or len(versions) != len(set(facts.version_ids)):
        raise Invalid("Allocate over the dataset's own frozen versions.", {"version_ids": ["Unknown version."]})
    weight_bound = sum(v.record_count if dataset.weighting == "records" else v.token_count for v in versions)
    if weight_bound > MAX_TOTAL_WEIGHT:
        raise Invalid("The versions' total weight is beyond exact allocation.", {"version_ids": ["Too large."]})

    posting.lock_for_writing(session, [f"allocation:{facts.key}"])
    opened = posting.open_transaction(session, key=facts.key, payload=facts.payload(), kind="allocation",
                                      memo={"license_id": facts.license_id})
    if opened.replayed:  # a concurrent twin committed between our look-up and our insert
        return session.scalar(select(Allocation).where(Allocation.payment_key == facts.key))
    transaction = opened.transaction
    shares = split(facts.gross, fee_bps, facts.contributor_share_bps)
    question = EligibilityQuestion(
        dataset_id=dataset.id, platform_id=dataset.platform_id,
        consent_policy=dataset.consent_policy, weighting=dataset.weighting,
        version_ids=tuple(sorted(facts.version_ids)), scopes=tuple(sorted(set(facts.scopes))),
        at=facts.paid_at, opt_in_regions=opt_in_regions,
    )
    eligible_count, total_weight, allocated = _insert_lines(session, question, transaction.id,
                                                           facts.currency, shares.pool)
    unallocated = shares.pool - allocated
    posting.add_entries(session, transaction.id, facts.currency, [
        ("payment_clearing", MARKETPLACE, -facts.gross),
        ("marketplace_fees", MARKETPLACE, shares.fee),
        ("platform_payable", dataset.platform_id, shares.to_platform),
        ("dataset_unallocated", dataset.id, unallocated),
    ])
    posting.seal(session, transaction.id)
    allocation = Allocation(
        payment_key=facts.key, transaction_id=transaction.id, dataset_id=dataset.id,
        platform_id=dataset.platform_id, license_id=facts.license_id,
        version_ids=sorted(facts.version_ids), scopes=sorted(set(facts.scopes)), currency=facts.currency,
        gross=facts.gross, fee_bps=fee_bps, contributor_share_bps=facts.contributor_share_bps,
        fee=shares.fee, to_platform=shares.to_platform, pool=shares.pool, unallocated=unallocated,
        weighting=dataset.weighting, total_weight=total_weight, eligible_count=eligible_count,
        paid_at=facts.paid_at,
    )
    session.add(allocation)
    session.flush()
    return allocation


def _check_facts(facts: PaymentFacts, fee_bps: int) -> None:
    """Refuse what the rule can't split (before anything is locked or written)."""
    if not 0 < facts.gross <= MAX_AMOUNT:
        raise Invalid(f"A payment's gross must be between 1 and {MAX_AMOUNT}.",
                      {"gross": [f"Must be between 1 and {MAX_AMOUNT}."]})
    for name, rate in (("fee_bps", fee_bps), ("contributor_share_bps", facts.contributor_share_bps)):
        if not 0 <= rate <= BPS:
            raise Invalid(f"{name} must be between 0 and {BPS}.", {name: [f"Must be between 0 and {BPS}."]})
    if not facts.scopes:
        raise Invalid("A payment pays for at least one usage scope.", {"scopes": ["Give at least one."]})


#: SQLite: the temporary table holding one allocation's eligible lines while it is written.
ELIGIBLE_LINES = "allocation_eligible_lines"


def _insert_lines(session: Session, question: EligibilityQuestion, transaction_id: int,
                  currency: str, pool: int) -> tuple[int, int, int]:
    """One entry per eligible contributor; returns (count, total weight, sum of amounts)."""
    prefix, params = eligible_sql(question)
    params.update(transaction_id=transaction_id, currency=currency)
    insert = (
        "INSERT INTO ledger_entries (transaction_id, account, owner_id, currency, amount, weight, tiebreak) "
        "SELECT :transaction_id, 'contributor_payable', contributor_id, :currency, {amount}, weight, tiebreak "
        "FROM lines"
    )
    if session.get_bind().dialect.name == "sqlite":
        # Eligibility is decided once, into a temporary table that the cut-off, its tie-break
        # look-up and the INSERT then read: evaluated in each of them, it took most of the time.
        # (Inside the transaction: a rollback takes the table with it.)
        session.execute(text(f"DROP TABLE IF EXISTS temp.{ELIGIBLE_LINES}"))
        session.execute(bind(f"CREATE TEMP TABLE {ELIGIBLE_LINES} AS {prefix.lstrip()}\n"
                             "SELECT contributor_id, weight, tiebreak FROM eligible"), params)
        lines = f"WITH lines AS (SELECT contributor_id, weight, tiebreak FROM temp.{ELIGIBLE_LINES})"
        line_params = {"transaction_id": transaction_id, "currency": currency}
        cut = _cutoff(session, text, lines, line_params, "lines", pool)
        if cut is not None:
            session.execute(text(lines + "\n" + insert.format(amount=cut.amount_sql())),
                            {**line_params, **cut.params()})
        session.execute(text(f"DROP TABLE temp.{ELIGIBLE_LINES}"))
        # The cut-off's own totals: by construction the lines share out the whole pool. (The seal
        # still sums every entry: lines that did not would leave the transaction unbalanced.)
        return (cut.n_total, cut.w_total, pool) if cut is not None else (0, 0, 0)
    sql = (
        prefix + ",\ntotals AS (SELECT contributor_id, weight, tiebreak, "
        "CAST(SUM(weight) OVER () AS BIGINT) AS w_total FROM eligible),\n"
        + _share_chain(session, "lines").lstrip() + "\n" + insert.format(amount="amount")
    )
    session.execute(bind(sql), {**params, "pool_lines": pool})
    count, weight, amount = session.execute(
        select(func.count(), func.coalesce(func.sum(LedgerEntry.weight), 0),
               func.coalesce(func.sum(LedgerEntry.amount), 0))
        .where(LedgerEntry.transaction_id == transaction_id, LedgerEntry.weight.is_not(None))
    ).one()
    return int(count), int(weight), int(amount)


def refunded_so_far(session: Session, allocation: Allocation) -> int:
    """The refunded total the allocation's shares currently reflect (0 before any reversal)."""
    latest = session.scalar(
        select(LedgerTransaction.refunded_total)
        .where(LedgerTransaction.allocation_id == allocation.id)
        .order_by(LedgerTransaction.id.desc()).limit(1)
    )
    return latest or 0


def reverse_to(session: Session, allocation: Allocation, refunded_total: int, *, key: str,
               memo: dict | None = None) -> LedgerTransaction:
    """Bring every share of `allocation` to the rule applied to gross − `refunded_total`.

    Posts the differences from the current state as one reversal transaction
    and returns it. `refunded_total` may also go down (a dispute won). When
    nothing changes the transaction has no entries but still spends `key`, so
    replaying it after later reversals posts nothing either.
    :raise Invalid: a total outside 0…gross. :raise Conflict: key reused differently.
    """
    if not 0 <= refunded_total <= allocation.gross:
        raise Invalid(
            f"Refunds must total between 0 and the payment's {allocation.gross}.",
            {"amount": ["Out of range."]},
        )
    posting.lock_for_writing(session, [f"allocation:{allocation.payment_key}"])
    payload = {"allocation_id": allocation.id, "refunded_total": refunded_total}
    previous = refunded_so_far(session, allocation)
    prior = session.scalar(select(LedgerTransaction).where(LedgerTransaction.idempotency_key == key))
    if prior is not None:
        posting.open_transaction(session, key=key, payload=payload, kind="reversal")
        return prior
    opened = posting.open_transaction(
        session, key=key, payload=payload, kind="reversal", reverses_id=allocation.transaction_id,
        allocation_id=allocation.id, refunded_total=refunded_total, memo=memo or {},
    )
    if opened.replayed:
        return opened.transaction
    transaction = opened.transaction
    if refunded_total != previous:
        _post_differences(session, allocation, transaction.id, previous, refunded_total)
    posting.seal(session, transaction.id)
    return transaction


def _post_differences(session: Session, allocation: Allocation, transaction_id: int,
                      previous: int, refunded_total: int) -> None:
    """The entries that take every share from the rule at `previous` to the rule at `refunded_total`."""
    old = shares_for(allocation, previous)
    new = shares_for(allocation, refunded_total)
    refunded_delta = refunded_total - previous
    posting.add_entries(session, transaction_id, allocation.currency, [
        ("refunds_disputes", MARKETPLACE, refunded_delta),
        ("marketplace_fees", MARKETPLACE, new.fee - old.fee),
        ("platform_payable", allocation.platform_id, new.to_platform - old.to_platform),
        ("dataset_unallocated", allocation.dataset_id, new.unallocated - old.unallocated),
    ])
    if allocation.eligible_count:
        _insert_line_deltas(session, allocation, transaction_id, old.pool, new.pool)


@dataclass(frozen=True)
class Shares:
    fee: int
    to_platform: int
    pool: int
    unallocated: int


def shares_for(allocation: Allocation, refunded_total: int) -> Shares:
    """The non-contributor shares of `allocation` after refunds totalling `refunded_total`."""
    shares = split(allocation.gross - refunded_total, allocation.fee_bps, allocation.contributor_share_bps)
    unallocated = 0 if allocation.eligible_count else shares.pool
    return Shares(shares.fee, shares.to_platform, shares.pool, unallocated)


def _insert_line_deltas(session: Session, allocation: Allocation, transaction_id: int,
                        old_pool: int, new_pool: int) -> None:
    """One entry per contributor whose share changes between the two pools."""
    params = {"source": allocation.transaction_id, "transaction_id": transaction_id,
              "currency": allocation.currency}
    if session.get_bind().dialect.name == "sqlite":
        prefix = ("WITH lines AS (SELECT owner_id AS contributor_id, weight, tiebreak FROM ledger_entries "
                  "WHERE transaction_id = :source AND weight > 0)")
        old = _cutoff(session, text, prefix, params, "old", old_pool)
        new = _cutoff(session, text, prefix, params, "new", new_pool)
        sql = (
            prefix + "\nINSERT INTO ledger_entries (transaction_id, account, owner_id, currency, amount) "
            "SELECT :transaction_id, 'contributor_payable', contributor_id, :currency, new_amount - old_amount "
            f"FROM (SELECT contributor_id, {old.amount_sql()} AS old_amount, {new.amount_sql()} AS new_amount "
            "FROM lines) WHERE new_amount <> old_amount"
        )
        session.execute(text(sql), {**params, **old.params(), **new.params()})
        return
    sql = (
        LINES_TOTALS + ",\n"
        + _share_chain(session, "old").lstrip() + ",\n" + _share_chain(session, "new").lstrip() + "\n"
        "INSERT INTO ledger_entries (transaction_id, account, owner_id, currency, amount) "
        "SELECT :transaction_id, 'contributor_payable', new.contributor_id, :currency, "
        "new.amount - old.amount FROM new JOIN old ON old.contributor_id = new.contributor_id "
        "WHERE new.amount <> old.amount"
    )
    session.execute(text(sql), {**params, "pool_old": old_pool, "pool_new": new_pool})


def contributor_amounts(session: Session, allocation: Allocation) -> dict[int, int]:
    """Each contributor's current share of `allocation` (its line plus reversals), for checks."""
    transaction_ids = select(LedgerTransaction.id).where(
        (LedgerTransaction.id == allocation.transaction_id)
        | (LedgerTransaction.allocation_id == allocation.id)
    )
    rows = session.execute(
        select(LedgerEntry.owner_id, func.sum(LedgerEntry.amount))
        .where(LedgerEntry.transaction_id.in_(transaction_ids), LedgerEntry.account == "contributor_payable")
        .group_by(LedgerEntry.owner_id)
    ).all()
    return {owner: int(amount) for owner, amount in rows}
