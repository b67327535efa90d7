"""Read-side sums of allocations over the ledger, for licenses, statements and transparency."""
from __future__ import annotations

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from marketplace.allocation.models import Allocation
from marketplace.allocation.reversal import refunded_so_far, shares_for

SHARE_ACCOUNTS = ("marketplace_fees", "platform_payable", "contributor_payable", "dataset_unallocated")


def allocation_totals(session: Session, allocation_ids: list[int]) -> dict:
    """Net shares of the given allocations (their postings plus reversals), by account kind,
    and how many contributors hold a non-zero share.

    The shares are the rule's for each payment's gross less its refunds so far (reversal.py: every
    reversal brings every share to exactly that, and the contributor lines share out the whole
    pool), so they come from the allocations' own rows, not from summing a million lines; `ledger
    check` holds the posted lines to the same rule. Only the count of contributors paid reads the
    lines, once.
    """
    totals = {account: 0 for account in SHARE_ACCOUNTS}
    if not allocation_ids:
        return {**totals, "contributors_paid": 0}
    allocations = session.scalars(select(Allocation).where(Allocation.id.in_(allocation_ids))).all()
    refunded_any = False
    for allocation in allocations:
        refunded = refunded_so_far(session, allocation)
        refunded_any = refunded_any or refunded > 0
        shares = shares_for(allocation, refunded)
        totals["marketplace_fees"] += shares.fee
        totals["platform_payable"] += shares.to_platform
        totals["contributor_payable"] += shares.pool - shares.unallocated
        totals["dataset_unallocated"] += shares.unallocated
    return {**totals, "contributors_paid": _contributors_paid(session, allocations, refunded_any)}


def _contributors_paid(session: Session, allocations: list[Allocation], refunded_any: bool) -> int:
    if len(allocations) == 1 and not refunded_any:
        # One allocation as posted (no reversal, or only ones that changed nothing): its lines with
        # an amount, in one pass without grouping a million owners.
        return int(session.execute(
            text("SELECT COUNT(*) FROM ledger_entries WHERE transaction_id = :transaction_id "
                 "AND account = 'contributor_payable' AND amount <> 0"),
            {"transaction_id": allocations[0].transaction_id}).scalar())
    transactions = (
        "SELECT t.id FROM ledger_transactions t LEFT JOIN allocations a ON a.transaction_id = t.id "
        "WHERE a.id IN :ids OR t.allocation_id IN :ids"
    )
    return int(session.execute(
        text(f"SELECT COUNT(*) FROM (SELECT owner_id FROM ledger_entries WHERE transaction_id IN ({transactions}) "
             "AND account = 'contributor_payable' GROUP BY owner_id HAVING SUM(amount) <> 0) paid")
        .bindparams(bindparam("ids", expanding=True)),
        {"ids": [allocation.id for allocation in allocations]},
    ).scalar())
