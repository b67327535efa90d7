"""Payout accounts, runs, payouts and the batch processor's imported results.

Who is paid, and how a person with several identities is paid: a payable is
one ledger account (`contributor_payable` of one contributor identity, or
`platform_payable` of one organization). A claimed person's identities each
have their own payable and are paid one payout per payable, all to the
person's one payout account; the threshold applies to each payable. That keeps
one payout per ledger account (the unit the ledger locks, reserves and
reverses) and lets an identity linked later be paid from its own history.
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, BigId, TimestampMixin, one_of, utcnow


class Provider(StrEnum):
    #: A file of payouts the marketplace uploads to its processor (PayPal Payouts' mass payment).
    BATCH = "batch"
    #: Stripe Connect Express: a connected account and one transfer per payout.
    STRIPE = "stripe"


class AccountStatus(StrEnum):
    #: Stripe onboarding not finished (Stripe has not reported payouts_enabled).
    ONBOARDING = "onboarding"
    READY = "ready"


class PayoutStatus(StrEnum):
    #: Reserved: the amount left the payable for payouts_in_transit; the processor may have it.
    IN_TRANSIT = "in_transit"
    #: The processor confirmed it: in transit → paid_out.
    PAID = "paid"
    #: Refused, failed or reversed: the amount went back to the payable.
    FAILED = "failed"


#: Payable ledger accounts a payout draws from.
PAYABLES = ("contributor_payable", "platform_payable")


class PayoutAccount(TimestampMixin, Base):
    """Where one person (a contributor account) or one platform organization is paid."""

    __tablename__ = "payout_accounts"
    __table_args__ = (
        one_of("provider", Provider),
        one_of("status", AccountStatus),
        CheckConstraint("(user_id IS NULL) <> (organization_id IS NULL)", name="one_owner"),
        CheckConstraint("provider <> 'batch' OR email IS NOT NULL", name="batch_email"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The contributor account (all its identities' payables are paid here); or empty.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), unique=True)
    #: The platform organization (its platform_payable is paid here); or empty.
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), unique=True)
    #: One of Provider.
    provider: Mapped[str] = mapped_column(String(16))
    #: "onboarding" until the provider can pay it, then "ready".
    status: Mapped[str] = mapped_column(String(16))
    #: The batch provider's payee (PayPal Payouts: the receiver's e-mail).
    email: Mapped[str | None] = mapped_column(String(254))
    #: Stripe: the connected account (acct_…), kept across provider changes so it isn't made twice.
    stripe_account_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    #: Stripe: payouts_enabled as the last `account.updated` event said.
    stripe_payouts_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class PayoutRun(TimestampMixin, Base):
    """One run: what it reserved and what it skipped."""

    __tablename__ = "payout_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    #: The threshold in force (minor units).
    threshold: Mapped[int] = mapped_column(BigInteger)
    #: Payables left out, by reason, when the run reserved.
    below_threshold: Mapped[int] = mapped_column(Integer, default=0)
    no_account: Mapped[int] = mapped_column(Integer, default=0)
    negative: Mapped[int] = mapped_column(Integer, default=0)
    #: Who started it: "cli", "api:<user id>", "page:<user id>", "job".
    started_by: Mapped[str] = mapped_column(String(40), default="")


class Payout(Base):
    """Money sent out of one payable: reserved once, then paid or failed once.

    Ledger postings are keyed by the payout id: `payout:{id}:reserve`, `payout:{id}:paid`,
    `payout:{id}:failed`; the Stripe transfer's idempotency key is `payout:{id}`.
    """

    __tablename__ = "payouts"
    __table_args__ = (
        one_of("status", PayoutStatus),
        one_of("provider", Provider),
        CheckConstraint("account IN ('contributor_payable', 'platform_payable')", name="account"),
        CheckConstraint("amount > 0", name="amount_positive"),
        # At most one payout in transit per payable: a second concurrent run can't reserve it again.
        Index("uq_payouts_in_transit", "account", "owner_id", "currency", unique=True,
              sqlite_where=text("status = 'in_transit'"), postgresql_where=text("status = 'in_transit'")),
        Index("ix_payouts_payee", "account", "owner_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("payout_runs.id", ondelete="RESTRICT"), index=True)
    payout_account_id: Mapped[int] = mapped_column(ForeignKey("payout_accounts.id", ondelete="RESTRICT"),
                                                   index=True)
    #: The provider at reservation (the account may change provider later).
    provider: Mapped[str] = mapped_column(String(16))
    #: The payable it draws from: "contributor_payable" or "platform_payable".
    account: Mapped[str] = mapped_column(String(24))
    #: The payable's owner: contributor id or organization id.
    owner_id: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    #: Minor units, > 0.
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=PayoutStatus.IN_TRANSIT)
    #: The payee at reservation: the batch e-mail or the Stripe connected account.
    destination: Mapped[str] = mapped_column(String(254))
    #: Stripe's transfer (tr_…), once created.
    transfer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    #: Why it failed (the processor's words).
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(DateTime)


class PayoutResult(Base):
    """A line of the batch processor's results as imported (reconciliation's processor side)."""

    __tablename__ = "payout_results"
    __table_args__ = (UniqueConstraint("payout_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    payout_id: Mapped[int] = mapped_column(ForeignKey("payouts.id", ondelete="RESTRICT"))
    #: "paid" or "failed".
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(500))
    imported_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
