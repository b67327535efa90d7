"""Licenses: one buyer's agreement for one offer, with an immutable copy of its terms."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import Organization
from marketplace.catalog.models import Dataset, DatasetVersion, Offer
from marketplace.db import Base, TimestampMixin, one_of, utcnow
from marketplace.payments.models import Payment


class LicenseStatus(StrEnum):
    """SPEC.md's license statuses; licensing.states holds the allowed moves."""

    PENDING_PAYMENT = "pending_payment"
    CANCELED = "canceled"
    ACTIVE = "active"
    EXPIRED = "expired"
    REFUNDED = "refunded"
    REVOKED = "revoked"


class License(TimestampMixin, Base):
    __tablename__ = "licenses"
    __table_args__ = (
        one_of("status", LicenseStatus),
        UniqueConstraint("buyer_id", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The buyer organization.
    buyer_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    #: A LicenseStatus; licensing.states has for the allowed moves.
    status: Mapped[str] = mapped_column(String(16), default=LicenseStatus.PENDING_PAYMENT)
    #: The offer's terms as accepted, frozen (canonical JSON object).
    terms: Mapped[dict] = mapped_column(JSON)
    #: Hex SHA-256 of the canonical JSON of `terms`.
    terms_sha256: Mapped[str] = mapped_column(String(64))
    #: The user who accepted the terms, and when.
    accepted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    accepted_at: Mapped[datetime] = mapped_column(DateTime)
    #: The price of one payment (the first, or one renewal), minor units of `currency`.
    price_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    #: The license's period once paid (renewals extend the end).
    period_start: Mapped[datetime | None] = mapped_column(DateTime)
    period_end: Mapped[datetime | None] = mapped_column(DateTime)
    #: Unpaid by then, a pending license is canceled (30 minutes after creation).
    pay_by: Mapped[datetime] = mapped_column(DateTime)
    #: The buyer's Idempotency-Key header, if any: same key and body → the same license.
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))

    buyer: Mapped[Organization] = relationship(foreign_keys=[buyer_id])
    offer: Mapped[Offer] = relationship()
    dataset: Mapped[Dataset] = relationship()
    version_rows: Mapped[list[LicenseVersion]] = relationship(
        order_by="LicenseVersion.version_id", lazy="selectin"
    )
    transitions: Mapped[list[LicenseTransition]] = relationship(
        back_populates="license", order_by="LicenseTransition.id"
    )
    #: Its payments (read only here: payments writes them).
    payments: Mapped[list[Payment]] = relationship("Payment", viewonly=True, order_by="Payment.id")


class LicenseVersion(Base):
    """A version a license covers (annual licenses gain the versions of their period)."""

    __tablename__ = "license_versions"

    license_id: Mapped[int] = mapped_column(ForeignKey("licenses.id"), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    version: Mapped[DatasetVersion] = relationship(lazy="joined")


class LicenseTransition(Base):
    """Every status change, with why: the license's history."""

    __tablename__ = "license_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    license_id: Mapped[int] = mapped_column(ForeignKey("licenses.id"), index=True)
    license: Mapped[License] = relationship(back_populates="transitions")
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    #: Why: "payment pi_… succeeded", "unpaid after 30 minutes", "refunded in full", …
    reason: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: The user who caused it, when a person did.
    actor_id: Mapped[int | None] = mapped_column(Integer)
