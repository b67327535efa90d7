"""Delivery's own rows: the download log and the buyers' deletion receipts. Both append-only."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, BigId, utcnow


class Download(Base):
    """One export a buyer fetched through a signed URL: what was delivered to whom, and when.

    Written once, by a job queued when the body has been streamed (a GET never writes itself).
    The withdrawals feed is derived from these rows (license, version, time), the consent
    history and the records' removal times; nothing is stored per record.
    """

    __tablename__ = "downloads"
    __table_args__ = (Index("ix_downloads_license_at", "license_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    license_id: Mapped[int] = mapped_column(ForeignKey("licenses.id", ondelete="RESTRICT"))
    #: The buyer's user who asked for the signed URL.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id", ondelete="RESTRICT"))
    #: The earlier version of a delta export (`since_version`); empty for a full export.
    since_version_id: Mapped[int | None] = mapped_column(ForeignKey("dataset_versions.id", ondelete="RESTRICT"))
    #: The moment the export was cut: eligibility and removals were read as of then.
    at: Mapped[datetime] = mapped_column(DateTime)
    #: When the last byte was handed to the server (or the client went away).
    finished_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: Bytes of the JSONL body before any gzip, and its record lines (canaries and tombstones not counted).
    bytes: Mapped[int] = mapped_column(BigInteger)
    records: Mapped[int] = mapped_column(BigInteger)
    #: Hex SHA-256 of the uncompressed body; empty when the client stopped before the end.
    sha256: Mapped[str | None] = mapped_column(String(64))
    #: Whether the whole body was sent.
    complete: Mapped[bool] = mapped_column(Boolean)
    #: True when the body was sent gzip-compressed.
    gzip: Mapped[bool] = mapped_column(Boolean, default=False)


class WithdrawalAck(Base):
    """A buyer's deletion receipt: it deleted every withdrawal of the license up to `through`."""

    __tablename__ = "withdrawal_acks"
    __table_args__ = (Index("ix_withdrawal_acks_license_through", "license_id", "through"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    license_id: Mapped[int] = mapped_column(ForeignKey("licenses.id", ondelete="RESTRICT"))
    #: Every withdrawal at or before this time is deleted (never moves backwards).
    through: Mapped[datetime] = mapped_column(DateTime)
    #: The buyer's user who attested it, and when.
    acknowledged_by: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
