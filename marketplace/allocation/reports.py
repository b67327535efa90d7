"""Read-side sums of allocations over the ledger, for licenses, statements and transparency."""
from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

SHARE_ACCOUNTS = ("marketplace_fees", "platform_payable", "contributor_payable", "dataset_unallocated")


def allocation_totals(session: Session, allocation_ids: list[int]) -> dict:
    """Net shares of the given allocations (their postings plus reversals), by account kind,
    and how many contributors hold a non-zero share."""
    totals = {account: 0 for account in SHARE_ACCOUNTS}
    if not allocation_ids:
        return {**totals, "contributors_paid": 0}
    transactions = (
        "SELECT t.id FROM ledger_transactions t LEFT JOIN allocations a ON a.transaction_id = t.id "
        "WHERE a.id IN :ids OR t.allocation_id IN :ids"
    )
    rows = session.execute(
        text(f"SELECT account, SUM(amount) FROM ledger_entries WHERE transaction_id IN ({transactions}) "
             "GROUP BY account").bindparams(bindparam("ids", expanding=True)),
        {"ids": allocation_ids},
    ).all()
    for account, amount in rows:
        if account in totals:
            totals[account] = int(amount)
    paid = session.execute(
        text(f"SELECT COUNT(*) FROM (SELECT owner_id FROM ledger_entries WHERE transaction_id IN ({transactions}) "
             "AND account = 'contributor_payable' GROUP BY owner_id HAVING SUM(amount) <> 0) paid")
        .bindparams(bindparam("ids", expanding=True)),
        {"ids": allocation_ids},
    ).scalar()
    return {**totals, "contributors_paid": int(paid)}
