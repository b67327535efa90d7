"""The allocation invariants `ledger check` runs (registered with it in `create_app`)."""
from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from marketplace.allocation.models import Allocation
from marketplace.allocation.reversal import shares_for
from marketplace.allocation.sql import LINES_TOTALS, share_chain
from marketplace.ledger.check import CheckResult, register_invariants
from marketplace.ledger.models import LedgerTransaction


def check_allocations(session: Session, result: CheckResult) -> None:
    _allocations_add_up(session, result)
    _lines_recompute(session, result)
    _reversals_follow_rule(session, result)


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


def _lines_recompute(session, result) -> None:
    """Recompute every allocation's lines from their own weights; compare amounts exactly."""
    chain = share_chain(session, "recomputed")
    for allocation in session.scalars(select(Allocation).where(Allocation.eligible_count > 0)):
        sql = (
            LINES_TOTALS + ",\n" + chain.lstrip() + "\n"
            "SELECT COUNT(*) FROM recomputed r JOIN ledger_entries e ON e.transaction_id = :source "
            "AND e.weight IS NOT NULL AND e.owner_id = r.contributor_id WHERE e.amount <> r.amount"
        )
        wrong = session.execute(text(sql), {"source": allocation.transaction_id,
                                            "pool_recomputed": allocation.pool}).scalar()
        if wrong:
            result.add("allocation recomputes from its lines",
                       {"allocation_id": allocation.id, "lines_differing": int(wrong)})


def _reversals_follow_rule(session, result) -> None:
    """Each allocation's current non-contributor shares equal the rule at its refunded total."""
    latest = (
        select(LedgerTransaction.allocation_id, func.max(LedgerTransaction.id).label("last_id"))
        .where(LedgerTransaction.allocation_id.is_not(None))
        .group_by(LedgerTransaction.allocation_id).subquery()
    )
    rows = session.execute(
        select(Allocation, LedgerTransaction.refunded_total)
        .join(latest, latest.c.allocation_id == Allocation.id)
        .join(LedgerTransaction, LedgerTransaction.id == latest.c.last_id)
    ).all()
    for allocation, refunded_total in rows:
        expected = shares_for(allocation, refunded_total)
        posted = dict(session.execute(text(
            "SELECT e.account, SUM(e.amount) FROM ledger_entries e JOIN ledger_transactions t "
            "ON t.id = e.transaction_id WHERE (t.id = :original OR t.allocation_id = :allocation) "
            "AND e.account IN ('marketplace_fees', 'platform_payable', 'dataset_unallocated') "
            "GROUP BY e.account"), {"original": allocation.transaction_id, "allocation": allocation.id}).all())
        got = (int(posted.get("marketplace_fees", 0)), int(posted.get("platform_payable", 0)),
               int(posted.get("dataset_unallocated", 0)))
        want = (expected.fee, expected.to_platform, expected.unallocated)
        if got != want:
            result.add("reversals follow the rule", {"allocation_id": allocation.id,
                                                     "refunded_total": refunded_total,
                                                     "expected": want, "posted": got})
        if allocation.eligible_count:
            wrong = _contributors_off_rule(session, allocation, expected.pool)
            if wrong:
                result.add("reversals follow the rule", {"allocation_id": allocation.id,
                                                         "refunded_total": refunded_total,
                                                         "contributors_differing": wrong})


def _contributors_off_rule(session, allocation, pool: int) -> int:
    """How many contributors' current shares differ from the rule applied to `pool`."""
    sql = (
        LINES_TOTALS + ",\n"
        + share_chain(session, "target").lstrip() + ",\n"
        "current_amounts AS (SELECT e.owner_id, SUM(e.amount) AS amount FROM ledger_entries e "
        "JOIN ledger_transactions t ON t.id = e.transaction_id "
        "WHERE (t.id = :source OR t.allocation_id = :allocation) AND e.account = 'contributor_payable' "
        "GROUP BY e.owner_id)\n"
        "SELECT COUNT(*) FROM target JOIN current_amounts c ON c.owner_id = target.contributor_id "
        "WHERE c.amount <> target.amount"
    )
    return int(session.execute(text(sql), {"source": allocation.transaction_id,
                                           "allocation": allocation.id, "pool_target": pool}).scalar())
