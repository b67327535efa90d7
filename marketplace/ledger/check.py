"""`ledger check`: every invariant of the money rules, verified over the whole ledger.

Set-based: each invariant is one query, whatever the ledger's size.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from marketplace.ledger.allocation import LINES_TOTALS, SHARE_CHAIN, SPLIT, shares_for
from marketplace.ledger.models import Allocation, LedgerCheck, LedgerEntry, LedgerTransaction

MAX_LISTED = 50


@dataclass
class CheckResult:
    transactions: int = 0
    entries: int = 0
    violations: list[dict] = field(default_factory=list)
    mismatched_accounts: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def balanced(self) -> bool:
        return not self.violations

    def add(self, invariant: str, detail) -> None:
        if len(self.violations) < MAX_LISTED:
            self.violations.append({"invariant": invariant, "detail": detail})


def run_check(session: Session) -> CheckResult:
    started = time.perf_counter()
    result = CheckResult()
    result.transactions = session.scalar(select(func.count()).select_from(LedgerTransaction))
    result.entries = session.scalar(select(func.count()).select_from(LedgerEntry))
    _transactions_balance(session, result)
    _ledger_balances(session, result)
    _transactions_sealed(session, result)
    _allocations_add_up(session, result)
    _lines_recompute(session, result)
    _reversals_follow_rule(session, result)
    result.seconds = time.perf_counter() - started
    return result


def _transactions_balance(session, result) -> None:
    # One currency per transaction (migration 0007's seal), so "sums to zero per currency" is one
    # group per transaction: a second currency slipped in shows as MIN <> MAX.
    rows = session.execute(text(
        "SELECT transaction_id, MIN(currency), MAX(currency), SUM(amount) FROM ledger_entries "
        "GROUP BY transaction_id HAVING SUM(amount) <> 0 OR MIN(currency) <> MAX(currency) LIMIT :n"),
        {"n": MAX_LISTED}).all()
    for transaction_id, lowest, highest, total in rows:
        if lowest != highest:
            result.add("transaction in one currency", {"transaction_id": transaction_id,
                                                       "currencies": sorted({lowest, highest})})
        else:
            result.add("transaction sums to zero", {"transaction_id": transaction_id, "currency": lowest,
                                                    "sum": int(total)})


def _ledger_balances(session, result) -> None:
    for currency, total in session.execute(text(
            "SELECT currency, SUM(amount) FROM ledger_entries GROUP BY currency HAVING SUM(amount) <> 0")):
        result.add("ledger sums to zero", {"currency": currency, "sum": int(total)})
        result.mismatched_accounts.append({"currency": currency, "sum": int(total)})


def _transactions_sealed(session, result) -> None:
    rows = session.execute(text(
        "SELECT t.id, s.entry_count, (SELECT COUNT(*) FROM ledger_entries e WHERE e.transaction_id = t.id) "
        "FROM ledger_transactions t LEFT JOIN ledger_seals s ON s.transaction_id = t.id "
        "WHERE s.transaction_id IS NULL OR s.entry_count <> "
        "(SELECT COUNT(*) FROM ledger_entries e WHERE e.transaction_id = t.id) LIMIT :n"),
        {"n": MAX_LISTED}).all()
    for transaction_id, sealed_count, count in rows:
        result.add("transaction sealed with all its entries",
                   {"transaction_id": transaction_id, "sealed": sealed_count, "entries": int(count)})


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
    collate = ' COLLATE "C"' if session.get_bind().dialect.name == "postgresql" else ""
    chain = SHARE_CHAIN.format(name="recomputed", split=SPLIT, collate=collate)
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
    collate = ' COLLATE "C"' if session.get_bind().dialect.name == "postgresql" else ""
    sql = (
        LINES_TOTALS + ",\n"
        + SHARE_CHAIN.format(name="target", split=SPLIT, collate=collate).lstrip() + ",\n"
        "current_amounts AS (SELECT e.owner_id, SUM(e.amount) AS amount FROM ledger_entries e "
        "JOIN ledger_transactions t ON t.id = e.transaction_id "
        "WHERE (t.id = :source OR t.allocation_id = :allocation) AND e.account = 'contributor_payable' "
        "GROUP BY e.owner_id)\n"
        "SELECT COUNT(*) FROM target JOIN current_amounts c ON c.owner_id = target.contributor_id "
        "WHERE c.amount <> target.amount"
    )
    return int(session.execute(text(sql), {"source": allocation.transaction_id,
                                           "allocation": allocation.id, "pool_target": pool}).scalar())


def record_check(session: Session, result: CheckResult) -> LedgerCheck:
    row = LedgerCheck(balanced=result.balanced, transactions=result.transactions, entries=result.entries,
                      violations=result.violations, seconds=round(result.seconds, 3))
    session.add(row)
    session.flush()
    return row


def totals_by_account_kind(session: Session) -> list[tuple[str, str, int, int]]:
    """(account kind, currency, balance, holders) for the admin page."""
    rows = session.execute(text(
        "SELECT account, currency, SUM(amount), COUNT(DISTINCT owner_id) FROM ledger_entries "
        "GROUP BY account, currency ORDER BY account, currency")).all()
    return [(account, currency, int(total), int(holders)) for account, currency, total, holders in rows]
