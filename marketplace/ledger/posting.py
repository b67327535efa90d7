"""Posting to the ledger: idempotent transactions, entries, the sealing row, locks.

A write opens its transaction row first, keyed by an idempotency key the caller
derives from what it does. The same key with the same request returns the
stored transaction and posts nothing; with another request it is a conflict.
Entries follow, then the seal, whose insert trigger refuses a transaction that
is not in one currency or does not sum to zero.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.errors import Conflict
from marketplace.ledger.models import ACCOUNT_KINDS, LedgerEntry, LedgerSeal, LedgerTransaction


@dataclass(frozen=True)
class Opened:
    transaction: LedgerTransaction
    #: True when the key had been used by the same request: nothing new must be posted.
    replayed: bool


def request_hash(payload: dict) -> str:
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


def lock_for_writing(session: Session, lock_keys: Iterable[str] = ()) -> None:
    """Take the ledger's write locks, always in the same (sorted) order, so writers can't deadlock.

    PostgreSQL: transaction-scoped advisory locks, one per key (accounts,
    allocations). SQLite has one writer at a time: callers start their
    transaction with `db.begin_immediate`, so there is nothing to take here.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(set(lock_keys)):
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})


def open_transaction(
    session: Session, *, key: str, payload: dict, kind: str, **columns
) -> Opened:
    """Insert the transaction row for `key`, or find the one a previous call made.

    :raise Conflict: the key was used for a different request.
    """
    digest = request_hash({"kind": kind, **payload})
    existing = _by_key(session, key)
    if existing is None:
        transaction = LedgerTransaction(idempotency_key=key, request_hash=digest, kind=kind, **columns)
        try:
            with session.begin_nested():
                session.add(transaction)
        except IntegrityError:
            # A concurrent writer posted the same key first (it waited on the unique index).
            existing = _by_key(session, key)
            if existing is None:
                raise
        else:
            return Opened(transaction, replayed=False)
    if existing.request_hash != digest:
        raise Conflict(
            f"Idempotency key {key!r} was already used for a different request.",
            {"json": {"idempotency_key": ["Already used for a different request."]}},
        )
    return Opened(existing, replayed=True)


def _by_key(session: Session, key: str) -> LedgerTransaction | None:
    return session.scalar(select(LedgerTransaction).where(LedgerTransaction.idempotency_key == key))


def add_entries(session: Session, transaction_id: int, currency: str,
                entries: Iterable[tuple[str, int, int]]) -> int:
    """Insert (account kind, owner id, amount) entries, skipping zero amounts; returns the count."""
    rows = []
    for account, owner_id, amount in entries:
        if account not in ACCOUNT_KINDS:
            raise ValueError(f"unknown account kind {account!r}")
        if amount:
            rows.append({"transaction_id": transaction_id, "account": account, "owner_id": owner_id,
                         "currency": currency, "amount": amount})
    if rows:
        session.execute(insert(LedgerEntry), rows)
    return len(rows)


def seal(session: Session, transaction_id: int) -> None:
    """Close the transaction; the database refuses the seal unless its entries, all in one currency,
    sum to zero (migration 0007)."""
    count = session.scalar(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.transaction_id == transaction_id)
    )
    session.execute(insert(LedgerSeal).values(transaction_id=transaction_id, entry_count=count))


def post_transaction(
    session: Session, *, key: str, kind: str, currency: str,
    entries: list[tuple[str, int, int]], memo: dict | None = None, **columns,
) -> Opened:
    """Post a small balanced transaction idempotently (allocations use their own bulk path).

    :raise Conflict: the key was used for a different request.
    :raise ValueError: the entries don't sum to zero.
    """
    if sum(amount for _a, _o, amount in entries) != 0:
        raise ValueError("a transaction's entries must sum to zero")
    unknown = {account for account, _o, _a in entries} - ACCOUNT_KINDS.keys()
    if unknown:
        raise ValueError(f"unknown account kind {min(unknown)!r}")
    lock_for_writing(session, (f"{account}:{owner}" for account, owner, _ in entries))
    payload = {"currency": currency, "entries": sorted(entries), **columns}
    opened = open_transaction(session, key=key, payload=payload, kind=kind, memo=memo or {}, **columns)
    if not opened.replayed:
        add_entries(session, opened.transaction.id, currency, entries)
        seal(session, opened.transaction.id)
    return opened
