"""The payout invariants `ledger check` runs (registered with it in `create_app`).

The payouts table and the ledger tell the same story: what is in transit in the ledger is the
sum of the payouts in transit, what is paid out is the sum of the paid ones, and every payout
has exactly one reservation posted.
"""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from marketplace.ledger.check import CheckResult, register_invariants


def check_payouts(session: Session, result: CheckResult) -> None:
    rows = session.execute(text(
        "SELECT currency, "
        "COALESCE(SUM(CASE WHEN status = 'in_transit' THEN amount END), 0), "
        "COALESCE(SUM(CASE WHEN status = 'paid' THEN amount END), 0), COUNT(*) "
        "FROM payouts GROUP BY currency")).all()
    booked = {(account, currency): int(total) for account, currency, total in session.execute(text(
        "SELECT account, currency, SUM(amount) FROM ledger_entries "
        "WHERE account IN ('payouts_in_transit', 'paid_out') GROUP BY account, currency"))}
    currencies = {currency for _a, currency in booked} | {row[0] for row in rows}
    by_currency = {row[0]: row for row in rows}
    for currency in sorted(currencies):
        _c, in_transit, paid, _n = by_currency.get(currency, (currency, 0, 0, 0))
        for account, expected in (("payouts_in_transit", int(in_transit)), ("paid_out", int(paid))):
            posted = booked.get((account, currency), 0)
            if posted != expected:
                result.add("payouts match the ledger", {"account": account, "currency": currency,
                                                        "ledger": posted, "payouts": expected})
    reservations = session.execute(text(
        "SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'payout' AND idempotency_key LIKE :reserve"),
        {"reserve": "%:reserve"}).scalar()
    payouts = sum(int(row[3]) for row in rows)
    if int(reservations) != payouts:
        result.add("one reservation per payout", {"payouts": payouts, "reservations": int(reservations)})


def register() -> None:
    register_invariants("payouts", check_payouts)
