"""Refunds and disputes by recomputation (SPEC.md's money rules).

Once refunds of a payment total C, every share of it (fee, platform, each
contributor, unallocated) is exactly what the rule gives for G − C, with the
payment's original eligibility and weights; each reversal posts the difference
from the previous state. So refunds that add up to the whole payment leave
every share at zero, and order and repeats don't matter.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from marketplace.allocation.models import Allocation, AllocationPaidCount
from marketplace.allocation.split import split
from marketplace.allocation.sql import LINES_TOTALS, find_cutoff, share_chain, sort_memory
from marketplace.errors import Invalid
from marketplace.ledger import posting
from marketplace.ledger.models import MARKETPLACE, LedgerEntry, LedgerTransaction


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
        session.add(AllocationPaidCount(
            transaction_id=transaction.id, allocation_id=allocation.id,
            contributors_paid=count_contributors_paid(session, [allocation.id])))
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
        old = find_cutoff(session, text, prefix, params, "old", old_pool)
        new = find_cutoff(session, text, prefix, params, "new", new_pool)
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
        + share_chain(session, "old").lstrip() + ",\n" + share_chain(session, "new").lstrip() + "\n"
        "INSERT INTO ledger_entries (transaction_id, account, owner_id, currency, amount) "
        "SELECT :transaction_id, 'contributor_payable', new.contributor_id, :currency, "
        "new.amount - old.amount FROM new JOIN old ON old.contributor_id = new.contributor_id "
        "WHERE new.amount <> old.amount"
    )
    with sort_memory(session):
        session.execute(text(sql), {**params, "pool_old": old_pool, "pool_new": new_pool})


def count_contributors_paid(session: Session, allocation_ids: list[int]) -> int:
    """How many contributors hold a non-zero net share of the allocations together (their lines
    plus reversals, one contributor counted once), from the ledger."""
    # Each side by its own index (an OR across a join could use neither).
    transactions = (
        "SELECT transaction_id FROM allocations WHERE id IN :ids "
        "UNION ALL SELECT id FROM ledger_transactions WHERE allocation_id IN :ids"
    )
    return int(session.execute(
        text(f"SELECT COUNT(*) FROM (SELECT owner_id FROM ledger_entries WHERE transaction_id IN ({transactions}) "
             "AND account = 'contributor_payable' GROUP BY owner_id HAVING SUM(amount) <> 0) paid")
        .bindparams(bindparam("ids", expanding=True)),
        {"ids": allocation_ids},
    ).scalar_one())


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
