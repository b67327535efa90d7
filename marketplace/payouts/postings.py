"""The ledger side of a payout: one balanced transaction per payout and step, keyed by the payout.

    reserve   payable −A, payouts_in_transit +A     key payout:{id}:reserve
    paid      payouts_in_transit −A, paid_out +A    key payout:{id}:paid
    failed    payouts_in_transit −A, payable +A     key payout:{id}:failed
    reversed  paid_out −A, payable +A               key payout:{id}:reversed  (Stripe reversed a paid transfer)

`post_many` writes the transactions of many payouts set-based (one executemany per
table: transactions, entries, seals) inside the caller's one database transaction,
so a batch of reservations commits together while each payout keeps its own
idempotency key: a key that was already posted makes the whole batch fail on the
unique index (nothing half-written). Its request hash is the one
`posting.post_transaction` computes, so a single payout's step posted either way
replays the other.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.orm import Session

from marketplace.db import utcnow
from marketplace.ledger import posting
from marketplace.ledger.models import MARKETPLACE, LedgerEntry, LedgerSeal, LedgerTransaction

KIND = "payout"
STEPS = ("reserve", "paid", "failed", "reversed")


@dataclass(frozen=True)
class PayoutRef:
    """What a payout's postings need: its id, payable, currency and amount."""

    id: int
    account: str
    owner_id: int
    currency: str
    amount: int


def entries(step: str, payout: PayoutRef) -> list[tuple[str, int, int]]:
    amount, payable = payout.amount, (payout.account, payout.owner_id)
    match step:
        case "reserve":
            return [(*payable, -amount), ("payouts_in_transit", MARKETPLACE, amount)]
        case "paid":
            return [("payouts_in_transit", MARKETPLACE, -amount), ("paid_out", MARKETPLACE, amount)]
        case "failed":
            return [("payouts_in_transit", MARKETPLACE, -amount), (*payable, amount)]
        case "reversed":
            return [("paid_out", MARKETPLACE, -amount), (*payable, amount)]
    raise ValueError(f"unknown payout step {step!r}")


def key(step: str, payout_id: int) -> str:
    return f"payout:{payout_id}:{step}"


def post_one(session: Session, step: str, payout: PayoutRef) -> posting.Opened:
    """Post one payout's step idempotently (a replay posts nothing).

    :raise Conflict: the key was used for another request.
    """
    return posting.post_transaction(session, key=key(step, payout.id), kind=KIND, currency=payout.currency,
                                    entries=entries(step, payout), memo={"payout_id": payout.id})


def post_many(session: Session, step: str, payouts: Sequence[PayoutRef]) -> int:
    """Post `step` for every payout in set-based inserts; returns the number of transactions.

    :raise IntegrityError: one of the keys was posted already (the caller's transaction must
        roll back: callers select only payouts whose state says the step is not posted yet).
    """
    if not payouts:
        return 0
    connection = session.connection()
    now = utcnow()
    rows = []
    for payout in payouts:
        lines = entries(step, payout)
        digest = posting.request_hash({"kind": KIND, "currency": payout.currency, "entries": sorted(lines)})
        rows.append({"idempotency_key": key(step, payout.id), "request_hash": digest, "kind": KIND,
                     "memo": {"payout_id": payout.id}, "created_at": now})
    table = LedgerTransaction.__table__
    ids = connection.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), rows).scalars().all()
    entry_rows = []
    for transaction_id, payout in zip(ids, payouts, strict=True):
        for account, owner_id, amount in entries(step, payout):
            entry_rows.append({"transaction_id": transaction_id, "account": account, "owner_id": owner_id,
                               "currency": payout.currency, "amount": amount, "weight": None,
                               "tiebreak": None})
    connection.execute(insert(LedgerEntry.__table__), entry_rows)
    connection.execute(insert(LedgerSeal.__table__),
                       [{"transaction_id": transaction_id, "entry_count": 2} for transaction_id in ids])
    return len(ids)
