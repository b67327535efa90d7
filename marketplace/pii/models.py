"""Where personal data was found (never the value), and each version's frozen scan report."""
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
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, BigId, utcnow
from marketplace.pii.detector import TYPES

TYPE_CHECK = "type IN (" + ", ".join(f"'{kind}'" for kind in TYPES) + ")"


class PiiFinding(Base):
    """One personal value in a record's stored text: its type and character offsets, never the value.

    Written in bulk by the scan (no ORM object per finding); a record's findings are replaced
    whenever it is scanned again.
    """

    __tablename__ = "pii_findings"
    __table_args__ = (
        CheckConstraint(TYPE_CHECK, name="type"),
        CheckConstraint("start_offset >= 0 AND end_offset > start_offset", name="span"),
        # The findings list and the report count a dataset's findings by type.
        Index("ix_pii_findings_dataset_type", "dataset_id", "type"),
    )

    #: The record; a record's findings go with it.
    record_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("records.id", ondelete="CASCADE"), primary_key=True)
    #: First character of the value in the record's text (0-based, in characters).
    start: Mapped[int] = mapped_column("start_offset", Integer, primary_key=True)
    #: One past its last character.
    end: Mapped[int] = mapped_column("end_offset", Integer)
    #: The record's dataset, copied so per-dataset counts need no join.
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    #: One of detector.TYPES.
    type: Mapped[str] = mapped_column(String(16))
    #: detector.DETECTOR_VERSION that found it.
    detector_version: Mapped[int] = mapped_column(Integer)


class VersionPiiReport(Base):
    """A version's scan report, computed when it was frozen (its records don't change after)."""

    __tablename__ = "version_pii_reports"
    __table_args__ = (
        CheckConstraint("redaction IN ('placeholder', 'pseudonym')", name="redaction"),
    )

    version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="CASCADE"), primary_key=True)
    #: detector.DETECTOR and the DETECTOR_VERSION every record of the version was scanned with.
    detector: Mapped[str] = mapped_column(String(40))
    detector_version: Mapped[int] = mapped_column(Integer)
    records_scanned: Mapped[int] = mapped_column(BigInteger)
    #: Records with at least one value replaced in the export.
    records_with_findings: Mapped[int] = mapped_column(BigInteger)
    #: The dataset's pii_redaction when frozen: "placeholder" or "pseudonym".
    redaction: Mapped[str] = mapped_column(String(12))
    #: {type: occurrences replaced in the export}.
    findings: Mapped[dict] = mapped_column(JSON)
    #: {type: occurrences kept as written because the dataset keeps the type}.
    kept: Mapped[dict] = mapped_column(JSON)
    #: Occurrences kept because their exact value is on the dataset's allow-list.
    allowed: Mapped[int] = mapped_column(BigInteger)
    #: The dataset's pii_keep and pii_allow when frozen: what the version's exports honour.
    keep_types: Mapped[list] = mapped_column(JSON)
    allow_values: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
