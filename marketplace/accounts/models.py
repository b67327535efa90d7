"""Organizations, the people who act for them, and their API keys."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, TimestampMixin, one_of


class OrganizationKind(StrEnum):
    #: Hosts content and lists datasets of it.
    PLATFORM = "platform"
    #: Licenses datasets (an AI firm).
    BUYER = "buyer"


class UserRole(StrEnum):
    #: A member of an organization.
    MEMBER = "member"
    CONTRIBUTOR = "contributor"
    ADMIN = "admin"


class Organization(TimestampMixin, Base):
    __tablename__ = "organizations"
    __table_args__ = (one_of("kind", OrganizationKind),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "platform" (hosts content, lists datasets) or "buyer" (licenses them).
    kind: Mapped[str] = mapped_column(String(16))
    #: Display name, as typed at sign-up.
    name: Mapped[str] = mapped_column(String(120))
    #: URL-safe unique handle; contributors name a platform by it in consent calls.
    slug: Mapped[str] = mapped_column(String(80), unique=True)

    members: Mapped[list[User]] = relationship(back_populates="organization")

    @property
    def is_platform(self) -> bool:
        return self.kind == "platform"


class User(UserMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        one_of("role", UserRole),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Lower-cased e-mail address; the log-in name.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    #: argon2id hash of the password (argon2-cffi's encoded form).
    password_hash: Mapped[str] = mapped_column(String(255))
    #: "member" of an organization, "contributor" (a claimed person) or "admin" (staff).
    role: Mapped[str] = mapped_column(String(16), default="member")
    #: The organization a member acts for; empty for contributors and admins.
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )

    #: Moves on at log-out and at a password change: a session cookie carries the version it was
    #: issued at (`get_id`), and one with an older version loads nobody (accounts.auth).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    organization: Mapped[Organization | None] = relationship(back_populates="members")

    def get_id(self) -> str:
        """What the session cookie keeps: the id and the session version, as "id:version"."""
        return f"{self.id}:{self.session_version}"


class ApiKey(TimestampMixin, Base):
    """A bearer key. The secret is shown once; only its SHA-256 is kept.

    SHA-256 rather than argon2: the key carries 256 random bits, so a slow hash
    adds nothing but latency to every API call.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The visible start of the key (`dvd_xxxxxxxx`), unique; used to find it.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    #: Hex SHA-256 of the whole key.
    secret_hash: Mapped[str] = mapped_column(String(64))
    #: The person the key acts as.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: The organization the key acts for (empty for contributors' and admins' keys).
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    #: Free text to tell keys apart ("importer on host x").
    label: Mapped[str] = mapped_column(String(120), default="")
    #: Last time a request authenticated with it (updated at most once a minute).
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: When it was revoked; a revoked key authenticates nothing.
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship()
    organization: Mapped[Organization | None] = relationship()
