"""An allocation: how one payment was divided (SPEC.md: stored with the payment, recomputable)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, BigId, utcnow
from marketplace.ledger.models import LedgerTransaction


class Allocation(Base):
    """How one payment was divided: the rates used, the figures, and (as entries) the lines."""

    __tablename__ = "allocations"
    __table_args__ = (
        # From a posting to its allocation: statements and ledger pages (migration 0006).
        Index("ix_allocations_transaction", "transaction_id"),
        CheckConstraint("fee + to_platform + pool = gross", name="split_adds_up"),
        CheckConstraint("gross > 0", name="gross_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The payment's idempotency key ("payment:pi_…"): a payment allocates once.
    payment_key: Mapped[str] = mapped_column(String(200), unique=True)
    #: The ledger transaction that posted it.
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    #: The license paid for (licensing fills it in).
    license_id: Mapped[int | None] = mapped_column(Integer, index=True)
    #: Versions whose frozen weights were used.
    version_ids: Mapped[list[int]] = mapped_column(JSON)
    #: The usage scopes every eligible contributor consented to.
    scopes: Mapped[list[str]] = mapped_column(JSON)
    currency: Mapped[str] = mapped_column(String(3))
    gross: Mapped[int] = mapped_column(BigInteger)
    #: Rates in force at payment time.
    fee_bps: Mapped[int] = mapped_column(Integer)
    contributor_share_bps: Mapped[int] = mapped_column(Integer)
    fee: Mapped[int] = mapped_column(BigInteger)
    to_platform: Mapped[int] = mapped_column(BigInteger)
    pool: Mapped[int] = mapped_column(BigInteger)
    #: The part of the pool that went to the dataset's unallocated account (all or nothing).
    unallocated: Mapped[int] = mapped_column(BigInteger)
    #: "records" or "tokens": what the weights count.
    weighting: Mapped[str] = mapped_column(String(8))
    total_weight: Mapped[int] = mapped_column(BigInteger)
    eligible_count: Mapped[int] = mapped_column(Integer)
    #: The payment's time: eligibility was decided as of it.
    paid_at: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    transaction: Mapped[LedgerTransaction] = relationship(foreign_keys=[transaction_id])


class AllocationPaidCount(Base):
    """How many contributors hold a non-zero share of an allocation after one of its postings (the
    allocation itself, or a reversal that moved shares): a license's split reports it, and counting
    a million lines on every view of the license took most of a second. Written once with the
    posting it counts; the latest row by transaction is current. Append-only; `ledger check`
    recounts it from the lines."""

    __tablename__ = "allocation_paid_counts"

    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), index=True)
    contributors_paid: Mapped[int] = mapped_column(Integer)
