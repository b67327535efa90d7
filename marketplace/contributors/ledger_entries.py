"""One ledger transaction as a contributor may see it: only their own entries in it, and the
facts of the allocation it posts or reverses (rates, pool, their weights, every posting of it).
Each line of the statement links here; another contributor's transaction is a 404."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.accounts.models import Organization
from marketplace.allocation.models import Allocation
from marketplace.allocation.reversal import shares_for
from marketplace.catalog.contributors import identity_ids
from marketplace.catalog.models import Contributor, Dataset
from marketplace.contributors.statements import PAYABLE
from marketplace.errors import NotFound
from marketplace.ledger.models import LedgerEntry, LedgerTransaction
from marketplace.licensing.models import License
from marketplace.money import Money


@dataclass(frozen=True)
class MyEntry:
    """One of the account's entries in the transaction."""

    entry_id: int
    platform: str
    external_id: str
    amount: Money
    #: Allocation lines only: the weight and tie-break key the split used.
    weight: int | None
    tiebreak: str | None


@dataclass(frozen=True)
class Share:
    """An identity's line in the allocation, and where it stands after every posting of it."""

    platform: str
    external_id: str
    weight: int
    tiebreak: str
    #: What the allocation credited (before any reversal).
    allocated: Money
    #: The sum of this identity's entries over the allocation and all its reversals.
    now: Money
    #: The exact share, pool × weight ÷ total weight, as whole minor units and a remainder (of
    #: the total weight): the page shows the rule's arithmetic with them.
    whole_units: int
    remainder: int


@dataclass(frozen=True)
class AfterRefunds:
    """What a reversal leaves of the payment: the refunds and disputes so far, the gross net of
    them, and the contributors' pool the rule gives for that."""

    refunded: Money
    gross: Money
    pool: Money


@dataclass(frozen=True)
class Posting:
    """The allocation's posting or one of its reversals, with the account's part in it."""

    transaction_id: int
    kind: str
    created_at: datetime
    refunded_total: int | None
    amount: Money


@dataclass(frozen=True)
class EntryDetail:
    transaction: LedgerTransaction
    entries: list[MyEntry]
    allocation: Allocation | None
    dataset: Dataset | None
    buyer: str | None
    shares: list[Share]
    history: list[Posting]
    #: A reversal's transaction only.
    after_refunds: AfterRefunds | None = None


def entry_detail(session: Session, user_id: int, transaction_id: int) -> EntryDetail:
    """Ledger transaction `transaction_id` with only this account's entries in it, and the facts of
    the allocation it posts or reverses (rates, pool, weights, every posting of it).

    :raise NotFound: none of the account's identities has an entry in it (another contributor's
        transaction, or no such transaction).
    """
    ids = identity_ids(session, user_id)
    mine = _my_entries(session, ids, [transaction_id])
    if not mine:
        raise NotFound(f"No ledger transaction {transaction_id} of yours.")
    transaction = session.get(LedgerTransaction, transaction_id)
    allocation = _allocation_of(session, transaction)
    if allocation is None:
        return EntryDetail(transaction, _entries(mine), None, None, None, [], [])
    license_ = session.get(License, allocation.license_id) if allocation.license_id is not None else None
    postings = session.execute(
        select(LedgerTransaction.id, LedgerTransaction.kind, LedgerTransaction.created_at,
               LedgerTransaction.refunded_total)
        .where((LedgerTransaction.id == allocation.transaction_id)
               | (LedgerTransaction.allocation_id == allocation.id))
        .order_by(LedgerTransaction.id)
    ).all()
    related = _my_entries(session, ids, [p.id for p in postings])
    currency = allocation.currency
    # The postings that changed this account's share (a reversal that changed nothing of theirs,
    # like one that only caught up with an unchanged refund total, is left out), and this one.
    amounts = {p.id: sum(int(e.amount) for e in related if e.transaction_id == p.id) for p in postings}
    history = [Posting(p.id, p.kind, p.created_at, p.refunded_total, Money(amounts[p.id], currency))
               for p in postings if amounts[p.id] or p.id == transaction.id]
    shares = [
        Share(e.platform, e.external_id, int(e.weight), e.tiebreak, Money(int(e.amount), currency),
              Money(sum(int(r.amount) for r in related if r.owner_id == e.owner_id), currency),
              *_exact_share(allocation, int(e.weight)))
        for e in related if e.transaction_id == allocation.transaction_id and e.weight is not None
    ]
    return EntryDetail(transaction, _entries(mine), allocation, session.get(Dataset, allocation.dataset_id),
                       license_.buyer.name if license_ is not None else None, shares, history,
                       _after_refunds(allocation, transaction.refunded_total))


def _exact_share(allocation: Allocation, weight: int) -> tuple[int, int]:
    """(whole minor units, remainder) of pool × weight ÷ total weight."""
    if not allocation.total_weight:
        return 0, 0
    return divmod(allocation.pool * weight, allocation.total_weight)


def _after_refunds(allocation: Allocation, refunded_total: int | None) -> AfterRefunds | None:
    """The payment net of `refunded_total` (a reversal's); None for a transaction without one."""
    if refunded_total is None:
        return None
    currency = allocation.currency
    return AfterRefunds(Money(refunded_total, currency), Money(allocation.gross - refunded_total, currency),
                        Money(shares_for(allocation, refunded_total).pool, currency))


def _my_entries(session: Session, ids: list[int], transaction_ids: list[int]) -> list:
    """The identities' payable entries in these transactions, with whose they are (indexed by
    (transaction, owner))."""
    if not ids:
        return []
    return session.execute(
        select(LedgerEntry.id, LedgerEntry.transaction_id, LedgerEntry.owner_id, LedgerEntry.amount,
               LedgerEntry.currency, LedgerEntry.weight, LedgerEntry.tiebreak,
               Contributor.external_id, Organization.name.label("platform"))
        .join(Contributor, Contributor.id == LedgerEntry.owner_id)
        .join(Organization, Organization.id == Contributor.platform_id)
        .where(LedgerEntry.transaction_id.in_(transaction_ids), LedgerEntry.owner_id.in_(ids),
               LedgerEntry.account == PAYABLE)
        .order_by(LedgerEntry.transaction_id, LedgerEntry.id)
    ).all()


def _entries(rows) -> list[MyEntry]:
    return [MyEntry(r.id, r.platform, r.external_id, Money(int(r.amount), r.currency),
                    None if r.weight is None else int(r.weight), r.tiebreak) for r in rows]


def _allocation_of(session: Session, transaction: LedgerTransaction) -> Allocation | None:
    """The allocation `transaction` posts or reverses; None for other kinds."""
    if transaction.allocation_id is not None:
        return session.get(Allocation, transaction.allocation_id)
    if transaction.kind != "allocation":
        return None
    return session.scalar(select(Allocation).where(Allocation.transaction_id == transaction.id))
