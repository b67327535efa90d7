"""The ledger side of a payout: one balanced transaction per payout and step, keyed by the payout.

    reserve   payable −A, payouts_in_transit +A     key payout:{id}:reserve
    paid      payouts_in_transit −A, paid_out +A    key payout:{id}:paid
    failed    payouts_in_transit −A, payable +A     key payout:{id}:failed
    reversed  paid_out −A, payable +A               key payout:{id}:reversed  (Stripe reversed a paid transfer)

`post_many` writes the transactions of many payouts set-based (an executemany of the
transactions, then one INSERT … SELECT each for the entries and the seals) inside the caller's one database transaction,
so a batch of reservations commits together while each payout keeps its own
idempotency key: a key that was already posted makes the whole batch fail on the
unique index (nothing half-written). Its request hash is the one
`posting.post_transaction` computes, so a single payout's step posted either way
replays the other.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from marketplace.db import utcnow
from marketplace.ledger import posting
from marketplace.ledger.models import MARKETPLACE, LedgerTransaction

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


def canonical_hash(step: str, payout: PayoutRef) -> str:
    """`posting.request_hash` of the payout's step, from a string built directly (the bulk path
    hashes a hundred thousand of them; a test pins it to request_hash)."""
    lines = ",".join(f'["{account}",{owner},{amount}]' for account, owner, amount in sorted(entries(step, payout)))
    text = f'{{"currency":"{payout.currency}","entries":[{lines}],"kind":"{KIND}"}}'
    return hashlib.sha256(text.encode()).hexdigest()


#: The SQL of each step's two entries, per payout `p` joined to its transaction `t`.
_ENTRY_SQL = {
    "reserve": ("p.account, p.owner_id, -p.amount", "'payouts_in_transit', 0, p.amount"),
    "paid": ("'payouts_in_transit', 0, -p.amount", "'paid_out', 0, p.amount"),
    "failed": ("'payouts_in_transit', 0, -p.amount", "p.account, p.owner_id, p.amount"),
    "reversed": ("'paid_out', 0, -p.amount", "p.account, p.owner_id, p.amount"),
}


def post_many(session: Session, step: str, payouts: Sequence[PayoutRef]) -> int:
    """Post `step` for every payout set-based; returns the number of transactions.

    Three statements whatever the number: the transactions (one executemany, keys and request
    hashes made here), then the entries and the seals, each one INSERT … SELECT joining the
    payouts to their transactions by key (the unique index). The seal's trigger checks each
    transaction as usual.
    :raise IntegrityError: one of the keys was posted already (the caller's transaction must
        roll back: callers select only payouts whose state says the step is not posted yet).
    """
    if not payouts:
        return 0
    connection = session.connection()
    _insert_transactions(connection, step, payouts)
    joined = ("FROM payouts p JOIN ledger_transactions t ON t.idempotency_key = "
              "('payout:' || CAST(p.id AS VARCHAR(20)) || :suffix) WHERE p.id IN :ids")
    first, second = _ENTRY_SQL[step]
    statement_entries = text(
        "INSERT INTO ledger_entries (transaction_id, account, owner_id, amount, currency) "
        f"SELECT t.id, {first}, p.currency {joined} "
        "UNION ALL "
        f"SELECT t.id, {second}, p.currency {joined}").bindparams(bindparam("ids", expanding=True))
    statement_seals = text(f"INSERT INTO ledger_seals (transaction_id, entry_count) SELECT t.id, 2 {joined}") \
        .bindparams(bindparam("ids", expanding=True))
    ids = [payout.id for payout in payouts]
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        connection.execute(statement_entries, {"ids": chunk, "suffix": f":{step}"})
        connection.execute(statement_seals, {"ids": chunk, "suffix": f":{step}"})
    return len(payouts)


def _insert_transactions(connection, step: str, payouts: Sequence[PayoutRef]) -> None:
    """One executemany at the driver, values converted once by the columns' own bind processors
    (SQLAlchemy's per-row parameter handling was most of this insert's time)."""
    table = LedgerTransaction.__table__
    dialect = connection.dialect
    when = table.c.created_at.type.bind_processor(dialect) or (lambda value: value)
    now = when(utcnow())
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO ledger_transactions (idempotency_key, request_hash, kind, memo, created_at) "
           f"VALUES ({mark}, {mark}, '{KIND}', {mark}, {mark})")
    connection.exec_driver_sql(sql, [
        (key(step, payout.id), canonical_hash(step, payout), f'{{"payout_id": {payout.id}}}', now)
        for payout in payouts])


#: Payouts per statement (SQLite allows 32,766 bound values).
CHUNK = 5000
