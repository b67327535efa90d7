"""Consent history: append-only, one row per decision a contributor (or their platform) made."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, BigId, one_of, utcnow

#: The scope value meaning "every usage scope".
ALL_SCOPES = "*"


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class Consent(Base):
    """A contributor's decision for one dataset (or platform-wide) and one scope (or all).

    Never updated: a change of mind is a newer row. The effective decision is
    the most specific row (dataset over platform-wide, named scope over "*"),
    and among equals the latest (marketplace.consent.eligibility).
    """

    __tablename__ = "consents"
    __table_args__ = (
        one_of("status", ConsentStatus),
        Index("ix_consents_contributor_at", "contributor_id", "at"),
        # Eligibility and the transparency report's fingerprint read one platform's decisions.
        Index("ix_consents_platform_id", "platform_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contributor_id: Mapped[int] = mapped_column(ForeignKey("contributors.id", ondelete="RESTRICT"))
    #: The platform the contributor is known to (always set, also for dataset consents).
    platform_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"))
    #: The dataset it is about; empty for a platform-wide decision.
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id", ondelete="RESTRICT"))
    #: A usage scope, or "*" for all of them.
    scope: Mapped[str] = mapped_column(String(16))
    #: "granted" or "withdrawn".
    status: Mapped[str] = mapped_column(String(10))
    #: When the decision takes effect.
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: Where it came from: "contributor" (their own page or API), "platform-import:<note>", …
    source: Mapped[str] = mapped_column(String(200))
    #: The user who recorded it, when a person did.
    recorded_by: Mapped[int | None] = mapped_column(Integer)
