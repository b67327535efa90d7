"""`ledger check`: every invariant of the money rules, verified over the whole ledger.

The ledger's own invariants (balanced, sealed transactions) are here; domains
that post to the ledger register theirs (`register_invariants`: allocation's
lines and reversals), so the ledger imports none of them.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from marketplace.ledger.models import LedgerCheck, LedgerEntry, LedgerTransaction

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


Invariants = Callable[[Session, CheckResult], None]
#: Other domains' invariants, by name (registering again replaces: create_app runs per test app).
_registered: dict[str, Invariants] = {}


def register_invariants(name: str, check: Invariants) -> None:
    """Run `check(session, result)` as part of every ledger check; it calls `result.add` per violation."""
    _registered[name] = check


def run_check(session: Session) -> CheckResult:
    """Verify every invariant, the registered ones too, and return what was found. Reads only (in
    the caller's transaction: a read one, see ledger/jobs.py) and records nothing (`record_check`).
    Raises what an invariant raises."""
    started = time.perf_counter()
    result = CheckResult()
    result.transactions = session.scalar(select(func.count()).select_from(LedgerTransaction))
    result.entries = session.scalar(select(func.count()).select_from(LedgerEntry))
    _transactions_balance(session, result)
    _ledger_balances(session, result)
    _transactions_sealed(session, result)
    for check in _registered.values():
        check(session, result)
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


def record_check(session: Session, result: CheckResult) -> LedgerCheck:
    """Add the run to the ledger checks the admin page shows (flushed, not committed)."""
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
