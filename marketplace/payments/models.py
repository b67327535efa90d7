"""Payments through the card processor, its refunds and disputes, and the webhook inbox."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, TimestampMixin, one_of, utcnow


class PaymentStatus(StrEnum):
    REQUIRES_PAYMENT = "requires_payment"
    #: The card was accepted; the processor's confirmation (the webhook) is on its way.
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    #: The card was declined; the buyer may retry with another.
    FAILED = "failed"
    CANCELED = "canceled"


class PaymentPurpose(StrEnum):
    INITIAL = "initial"
    RENEWAL = "renewal"


class Payment(TimestampMixin, Base):
    """One PaymentIntent for a license: the first payment or a renewal."""

    __tablename__ = "payments"
    __table_args__ = (
        one_of("status", PaymentStatus),
        one_of("purpose", PaymentPurpose),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    license_id: Mapped[int] = mapped_column(ForeignKey("licenses.id"), index=True)
    #: "stripe" (localstripe in development: the same API).
    provider: Mapped[str] = mapped_column(String(16), default="stripe")
    #: The processor's PaymentIntent id: a payment activates and allocates once per id.
    payment_intent_id: Mapped[str] = mapped_column(String(255), unique=True)
    #: Returned to the buyer's browser to confirm the card.
    client_secret: Mapped[str] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    #: "initial" or "renewal".
    purpose: Mapped[str] = mapped_column(String(8), default="initial")
    #: A PaymentStatus.
    status: Mapped[str] = mapped_column(String(20), default="requires_payment")
    #: The processor's charge id, once it succeeded (refund and dispute events name it).
    charge_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    #: The last failure the processor reported, shown to the buyer.
    failure_message: Mapped[str | None] = mapped_column(String(500))
    succeeded_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: When the buyer's card was accepted on our pay page (the processor's confirmation, the
    #: webhook, may come later): a license paid in time is not canceled by the clock meanwhile.
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: Highest cumulative `amount_refunded` the processor reported (refund events can arrive in any order).
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Money currently held by open disputes.
    disputed_amount: Mapped[int] = mapped_column(BigInteger, default=0)


class Refund(TimestampMixin, Base):
    """A refund we asked the processor for (admin, or automatic for a payment we can't honour)."""

    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    #: The processor's refund id.
    refund_id: Mapped[str] = mapped_column(String(255), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    #: "admin" or "automatic".
    reason: Mapped[str] = mapped_column(String(200))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    payment: Mapped[Payment] = relationship()


class Dispute(TimestampMixin, Base):
    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    dispute_id: Mapped[str] = mapped_column(String(255), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    #: The processor's status: "needs_response", …, "won", "lost".
    status: Mapped[str] = mapped_column(String(32))


class WebhookEvent(Base):
    """The inbox: each processor event id once, written in the transaction of its effect."""

    __tablename__ = "webhook_events"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    #: The verified payload, kept for support and reconciliation.
    payload: Mapped[dict] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
