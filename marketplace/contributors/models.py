"""Claim codes and erasure requests."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, BigId, utcnow


class ClaimCode(Base):
    """A one-time, expiring code a platform hands a contributor to claim their identity.

    Only the code's SHA-256 is kept (the code is shown once, to the platform, to pass on).
    A code is open while it is neither used, revoked nor expired; issuing a new code for a
    contributor revokes their open ones.
    """

    __tablename__ = "claim_codes"
    __table_args__ = (Index("ix_claim_codes_contributor", "contributor_id", "revoked_at", "used_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contributor_id: Mapped[int] = mapped_column(ForeignKey("contributors.id", ondelete="RESTRICT"))
    #: Hex SHA-256 of the normalized code.
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    #: The operator (user) who issued it; empty for bulk issues by command.
    issued_by: Mapped[int | None] = mapped_column(Integer)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: The account that claimed with it.
    used_by: Mapped[int | None] = mapped_column(Integer)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class ErasureRequest(Base):
    """A contributor's request to erase their records on one platform, and what it erased."""

    __tablename__ = "erasure_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contributor_id: Mapped[int] = mapped_column(ForeignKey("contributors.id", ondelete="RESTRICT"), index=True)
    #: The account that asked.
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    requested_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: Records erased by this request (those already erased are not counted again).
    records_erased: Mapped[int] = mapped_column(Integer, default=0)
