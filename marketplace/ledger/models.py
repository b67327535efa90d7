"""The double-entry ledger: transactions, entries, seals and check runs.

Sign convention: an entry's `amount` is what the account's holder is owed more
(positive) or less (negative). A payment of G debits the payment-clearing
account (-G: money the processor holds for us) and credits the fee, platform,
contributor and unallocated accounts with shares that add up to G. Every
transaction is in one currency and sums to zero; so does the whole ledger, per currency.

Accounts are addresses, (kind, owner id, currency), not rows: an account
exists once an entry names it, and its balance is the sum of its entries. That
keeps an allocation over a million contributors to one written row each: the
contributor's entry, which is also the allocation's line (it carries the
weight and tie-break key the split used).

Nothing here is ever updated or deleted; the database refuses (triggers in the
migration). Corrections are new transactions that point at what they correct.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, BigId, utcnow

#: Account kinds, and whose id `owner_id` holds (0: the marketplace itself).
ACCOUNT_KINDS = {
    "payment_clearing": "marketplace",     # money the card processor holds for us (negative)
    "marketplace_fees": "marketplace",     # the marketplace's fee revenue
    "processor_fees": "marketplace",       # the card processor's fees: the marketplace's cost
    "refunds_disputes": "marketplace",     # money returned to buyers or held by disputes
    "payouts_in_transit": "marketplace",   # sent to a payout account, not yet settled
    "paid_out": "marketplace",             # payouts the processor confirmed: money that left
    "platform_payable": "organization",    # owed to a platform
    "contributor_payable": "contributor",  # owed to a contributor
    "dataset_unallocated": "dataset",      # a dataset's pool with no eligible contributor
}
MARKETPLACE = 0


class LedgerTransaction(Base):
    """A set of entries posted together; unique by its idempotency key."""

    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: Chosen by the caller from what the write does ("payment:pi_…"); one posting per key.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    #: SHA-256 of the request that first used the key; another request with it is a conflict.
    request_hash: Mapped[str] = mapped_column(String(64))
    #: "allocation", "reversal", …
    kind: Mapped[str] = mapped_column(String(32))
    #: The transaction this one corrects, if it is a reversal.
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    #: For a reversal: the allocation it corrects (the allocation points at its own posting).
    #: (No foreign key: allocations point back at their posting, and the pair would be a cycle.)
    allocation_id: Mapped[int | None] = mapped_column(BigId, index=True)
    #: For a reversal: the payment's cumulative refunded amount it brings every share to.
    refunded_total: Mapped[int | None] = mapped_column(BigInteger)
    #: Free-form context (processor ids, who asked).
    memo: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LedgerEntry(Base):
    """One amount for one account. Allocation lines are entries with a weight."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0 OR weight IS NOT NULL", name="amount_nonzero"),
        Index("ix_ledger_entries_account", "account", "owner_id", "currency"),
        # A transaction's entries, and one line of one allocation in a single look-up
        # (migration 0004; 0006 dropped the index on transaction_id alone, which this covers).
        Index("ix_ledger_entries_transaction_owner", "transaction_id", "owner_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"))
    #: One of ACCOUNT_KINDS.
    account: Mapped[str] = mapped_column(String(24))
    #: The holder: organization, contributor or dataset id by kind; 0 for the marketplace.
    owner_id: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    #: Minor units; positive: the holder is owed more.
    amount: Mapped[int] = mapped_column(BigInteger)
    #: Allocation lines only: the contributor's weight in the split (may give amount 0).
    weight: Mapped[int | None] = mapped_column(BigInteger)
    #: Allocation lines only: the tie-break key (contributor's external id, byte order).
    tiebreak: Mapped[str | None] = mapped_column(String(200))


class LedgerSeal(Base):
    """Written last in each transaction; its insert trigger refuses an unbalanced transaction."""

    __tablename__ = "ledger_seals"

    transaction_id: Mapped[int] = mapped_column(
        ForeignKey("ledger_transactions.id"), primary_key=True
    )
    entry_count: Mapped[int] = mapped_column(BigInteger)


class LedgerCheck(Base):
    """The result of one `ledger check` run (shown on the admin page)."""

    __tablename__ = "ledger_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    balanced: Mapped[bool] = mapped_column()
    transactions: Mapped[int] = mapped_column(BigInteger)
    entries: Mapped[int] = mapped_column(BigInteger)
    #: Every violation found: [{"invariant", "detail"}].
    violations: Mapped[list[dict]] = mapped_column(JSON, default=list)
    seconds: Mapped[float] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
