"""Datasets, their contributors and records, frozen versions and offers."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import Organization
from marketplace.db import Base, BigId, TimestampMixin, one_of, utcnow

CONTENT_KINDS = ("post", "comment", "qa", "image-caption", "review", "chat", "article")


class ConsentPolicy(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


class Weighting(StrEnum):
    """What a contributor's weight in a split counts."""

    RECORDS = "records"
    TOKENS = "tokens"


class DatasetStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"


#: RSL 1.0's usage tokens where they exist, plus ai-eval and ad-targeting (SPEC.md).
SCOPES = ("ai-train", "ai-input", "ai-index", "search", "ai-eval", "ad-targeting")


class PriceModel(StrEnum):
    FLAT = "flat"
    PER_1K_RECORDS = "per_1k_records"
    PER_1M_TOKENS = "per_1m_tokens"


class Billing(StrEnum):
    ONE_TIME = "one_time"
    ANNUAL = "annual"


class PiiRedaction(StrEnum):
    """What an export puts where personal data was found (SPEC.md)."""

    PLACEHOLDER = "placeholder"
    PSEUDONYM = "pseudonym"


#: Personal-data types a dataset may export as written (SPEC.md); never e-mail, phone, card, IBAN.
PII_KEEPABLE = ("handle", "profile_url")
PII_ALLOW_MAX = 1000




class Contributor(TimestampMixin, Base):
    """A person whose content a platform hosts, known by the platform's external id."""

    __tablename__ = "contributors"
    __table_args__ = (UniqueConstraint("platform_id", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The platform that knows this person.
    platform_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"))
    #: The platform's own id for the person; also the allocation tie-break key.
    external_id: Mapped[str] = mapped_column(String(200))
    #: ISO 3166-1 alpha-2 region, upper case (decides opt-in rules).
    region: Mapped[str] = mapped_column(String(2))
    #: The person's Dividend account once they claimed this identity (one account may hold
    #: identities on several platforms); empty until then. Earnings accrue either way.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    #: When the identity was claimed.
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)


class Dataset(TimestampMixin, Base):
    __tablename__ = "datasets"
    __table_args__ = (
        one_of("consent_policy", ConsentPolicy),
        one_of("weighting", Weighting),
        one_of("status", DatasetStatus),
        one_of("pii_redaction", PiiRedaction),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The platform that lists it.
    platform_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    #: Unique URL handle, fixed at creation.
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    #: One or two sentences for the catalog card.
    summary: Mapped[str] = mapped_column(String(500), default="")
    #: The datasheet's long text (plain text, paragraphs separated by blank lines).
    description: Mapped[str] = mapped_column(Text, default="")
    #: What one record is: one of CONTENT_KINDS.
    content_kind: Mapped[str] = mapped_column(String(32))
    #: Free-form tags, lower case.
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: "opt_out" (everyone unless withdrawn) or "opt_in" (only those who granted).
    consent_policy: Mapped[str] = mapped_column(String(8), default="opt_out")
    #: What a contributor's weight counts: "records" or "tokens".
    weighting: Mapped[str] = mapped_column(String(8), default="records")
    #: "draft" (only its platform sees it), "published" or "unpublished".
    status: Mapped[str] = mapped_column(String(12), default="draft")
    #: First publication time, shown in the catalog.
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: Bumped by every import and take-down; versions remember it to tell what changed.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    #: How exports replace personal data: "placeholder" (`<EMAIL>`) or "pseudonym" (per license).
    pii_redaction: Mapped[str] = mapped_column(String(12), default="placeholder")
    #: Types exported as written: only "handle" and "profile_url" may be kept (PII_KEEPABLE).
    pii_keep: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Exact values never redacted (the platform's own support address, say); at most 1,000.
    pii_allow: Mapped[list[str]] = mapped_column(JSON, default=list)

    #: Lower-cased title, summary, description and tags: what full-text search reads.
    search_document: Mapped[str] = mapped_column(Text, default="")

    platform: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)
    language_rows: Mapped[list[DatasetLanguage]] = relationship(
        cascade="all, delete-orphan", order_by="DatasetLanguage.code", lazy="selectin"
    )
    versions: Mapped[list[DatasetVersion]] = relationship(
        back_populates="dataset", order_by="DatasetVersion.id.desc()"
    )
    offers: Mapped[list[Offer]] = relationship(back_populates="dataset", order_by="Offer.id")

    @property
    def languages(self) -> list[str]:
        return [row.code for row in self.language_rows]

    @property
    def latest_version(self) -> DatasetVersion | None:
        return self.versions[0] if self.versions else None

    @property
    def is_public(self) -> bool:
        return self.status == "published"


class DatasetLanguage(Base):
    """One language of a dataset (a row each, so the catalog can filter by it)."""

    __tablename__ = "dataset_languages"

    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True
    )
    #: ISO 639-1 code, lower case.
    code: Mapped[str] = mapped_column(String(8), primary_key=True, index=True)


class Record(Base):
    """One item of content. Written in bulk by the importer, never one ORM object at a time."""

    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("dataset_id", "external_id"),
        # Also answers, from the index alone, what freezing sums per contributor (live records and
        # their tokens) and whether a contributor has a live record (migration 0008).
        Index("ix_records_dataset_contributor", "dataset_id", "contributor_id", "taken_down_at", "tokens"),
        # Counts and finds a dataset's records not yet scanned by the current detector.
        Index("ix_records_dataset_pii_version", "dataset_id", "pii_version"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="RESTRICT"))
    #: The platform's id for the item, unique in its dataset.
    external_id: Mapped[str] = mapped_column(String(200))
    contributor_id: Mapped[int] = mapped_column(
        ForeignKey("contributors.id", ondelete="RESTRICT")
    )
    #: The content itself.
    text: Mapped[str] = mapped_column(Text)
    #: When the content was written (UTC), as the platform reports it.
    created_at: Mapped[datetime] = mapped_column(DateTime)
    #: Token count; the text's whitespace-separated words when not given.
    tokens: Mapped[int] = mapped_column(Integer)
    #: Dataset revision that first imported it.
    added_rev: Mapped[int] = mapped_column(Integer)
    #: Dataset revision that last changed its content (text, time, tokens, contributor).
    modified_rev: Mapped[int] = mapped_column(Integer)
    #: When the platform took it down; taken-down records leave later versions.
    taken_down_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: Dataset revision of the take-down.
    taken_down_rev: Mapped[int | None] = mapped_column(Integer)
    #: When the contributor had it erased: the text is gone, the row stays as a tombstone
    #: (external id and times) so buyers can be told what to delete. Also taken down.
    erased_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: The personal-data detector version (pii.detector.DETECTOR_VERSION) that scanned the
    #: current text; empty until scanned, and emptied again when an import changes the text.
    pii_version: Mapped[int | None] = mapped_column(Integer)


class DatasetVersion(Base):
    """A frozen snapshot: counts, the canonical export's sha256, each contributor's weight."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="RESTRICT"))
    #: Semantic version "MAJOR.MINOR.PATCH" (minor: records added; major: removed or changed).
    number: Mapped[str] = mapped_column(String(32))
    record_count: Mapped[int] = mapped_column(BigInteger)
    token_count: Mapped[int] = mapped_column(BigInteger)
    contributor_count: Mapped[int] = mapped_column(Integer)
    #: Hex SHA-256 of the canonical export (catalog.versions.canonical_lines).
    sha256: Mapped[str] = mapped_column(String(64))
    #: The dataset revision it captured.
    revision: Mapped[int] = mapped_column(Integer)
    #: Earliest and latest content timestamps, for the datasheet.
    first_record_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_record_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    dataset: Mapped[Dataset] = relationship(back_populates="versions")


class VersionContributor(Base):
    """A contributor's weight in a version, computed once at freeze time.

    Allocation reads these rows instead of re-aggregating records.
    """

    __tablename__ = "version_contributors"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="RESTRICT"), primary_key=True
    )
    contributor_id: Mapped[int] = mapped_column(
        ForeignKey("contributors.id", ondelete="RESTRICT"), primary_key=True
    )
    record_count: Mapped[int] = mapped_column(BigInteger)
    token_count: Mapped[int] = mapped_column(BigInteger)


class Offer(TimestampMixin, Base):
    """Terms a platform sells a dataset under. Never edited once created: retire and re-offer."""

    __tablename__ = "offers"
    __table_args__ = (
        one_of("price_model", PriceModel),
        one_of("billing", Billing),
        CheckConstraint("price_amount > 0", name="price_positive"),
        CheckConstraint("term_months > 0", name="term_positive"),
        CheckConstraint(
            "contributor_share_bps BETWEEN 0 AND 10000", name="contributor_share_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    #: Months a license under it lasts.
    term_months: Mapped[int] = mapped_column(Integer)
    #: ISO 3166-1 alpha-2 codes where the buyer may use the data, or ["*"] for anywhere.
    territory: Mapped[list[str]] = mapped_column(JSON)
    #: An exclusive license holds the overlapping scopes and territory for its term.
    exclusive: Mapped[bool] = mapped_column(Boolean, default=False)
    #: "flat", "per_1k_records" or "per_1m_tokens".
    price_model: Mapped[str] = mapped_column(String(16))
    #: The amount the model multiplies, in minor units of `currency`.
    price_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    #: "one_time" or "annual" (renews, delivering every version of its period).
    billing: Mapped[str] = mapped_column(String(10))
    #: Contributors' share of the net, in basis points; never below the marketplace floor.
    contributor_share_bps: Mapped[int] = mapped_column(Integer)
    #: When it stopped taking new licenses.
    retired_at: Mapped[datetime | None] = mapped_column(DateTime)

    dataset: Mapped[Dataset] = relationship(back_populates="offers")
    scope_rows: Mapped[list[OfferScope]] = relationship(
        cascade="all, delete-orphan", order_by="OfferScope.scope", lazy="selectin"
    )

    @property
    def scopes(self) -> list[str]:
        return [row.scope for row in self.scope_rows]

    @property
    def is_active(self) -> bool:
        return self.retired_at is None


class OfferScope(Base):
    """One usage scope an offer grants (a row each, so the catalog can filter by it)."""

    __tablename__ = "offer_scopes"

    offer_id: Mapped[int] = mapped_column(
        ForeignKey("offers.id", ondelete="CASCADE"), primary_key=True
    )
    scope: Mapped[str] = mapped_column(String(16), primary_key=True, index=True)
