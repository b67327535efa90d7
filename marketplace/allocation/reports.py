"""Read-side sums of allocations over the ledger, for licenses, statements and transparency."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.allocation.models import Allocation, AllocationPaidCount
from marketplace.allocation.reversal import count_contributors_paid, refunded_so_far, shares_for
from marketplace.ledger.models import LedgerSeal, LedgerTransaction

SHARE_ACCOUNTS = ("marketplace_fees", "platform_payable", "contributor_payable", "dataset_unallocated")


def allocation_totals(session: Session, allocation_ids: list[int]) -> dict:
    """Net shares of the given allocations (their postings plus reversals), by account kind,
    and how many contributors hold a non-zero share.

    The shares are the rule's for each payment's gross less its refunds so far (reversal.py: every
    reversal brings every share to exactly that, and the contributor lines share out the whole
    pool), so they come from the allocations' own rows, not from summing a million lines; `ledger
    check` holds the posted lines to the same rule. The count of contributors paid was stored with
    the posting that last moved them (AllocationPaidCount); only several allocations together
    are counted from the lines.
    """
    totals = {account: 0 for account in SHARE_ACCOUNTS}
    if not allocation_ids:
        return {**totals, "contributors_paid": 0}
    allocations = session.scalars(select(Allocation).where(Allocation.id.in_(allocation_ids))).all()
    for allocation in allocations:
        refunded = refunded_so_far(session, allocation)
        shares = shares_for(allocation, refunded)
        totals["marketplace_fees"] += shares.fee
        totals["platform_payable"] += shares.to_platform
        totals["contributor_payable"] += shares.pool - shares.unallocated
        totals["dataset_unallocated"] += shares.unallocated
    return {**totals, "contributors_paid": _contributors_paid(session, allocations)}


def _contributors_paid(session: Session, allocations: list[Allocation]) -> int:
    if len(allocations) == 1:
        # Counted when the allocation, or its latest reversal that moved shares, was posted; used
        # only if no later posting moved shares without counting (one written by code from before
        # the counts, still running while migration 0017 ran).
        latest = (select(AllocationPaidCount)
                  .where(AllocationPaidCount.allocation_id == allocations[0].id)
                  .order_by(AllocationPaidCount.transaction_id.desc()).limit(1).subquery())
        moved_since = (select(LedgerTransaction.id)
                       .join(LedgerSeal, LedgerSeal.transaction_id == LedgerTransaction.id)
                       .where(LedgerTransaction.allocation_id == latest.c.allocation_id,
                              LedgerTransaction.id > latest.c.transaction_id, LedgerSeal.entry_count > 0))
        counted = session.scalar(select(latest.c.contributors_paid).where(~moved_since.exists()))
        if counted is not None:
            return counted
    # Several payments of one license: a contributor paid by two is one contributor.
    return count_contributors_paid(session, [allocation.id for allocation in allocations])
