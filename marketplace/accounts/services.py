"""Accounts: sign-up, passwords, API keys.

Services flush and never commit; the request, command or job commits once.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from marketplace.accounts.models import ApiKey, Organization, User
from marketplace.db import utcnow
from marketplace.errors import Conflict, NotFound, field_errors, invalid_field
from marketplace.text import NO_NUL, has_nul, is_email, slugify

_hasher = PasswordHasher()
KEY_PREFIX = "dvd_"
MIN_PASSWORD_LENGTH = 8
#: Writing last_used_at on every call would turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    """A freshly made key: the row, and the secret that is never shown again."""

    key: ApiKey
    secret: str


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def set_password(session: Session, user: User, password: str) -> None:
    """A new password for `user`; every session they have open ends with the old one."""
    user.password_hash = hash_password(password)
    end_sessions(session, user)


def end_sessions(session: Session, user: User) -> None:
    """End every web session of `user` (log-out, a new password): cookies issued before now carry
    an older session version, which the user loader refuses."""
    user.session_version = (user.session_version or 0) + 1
    session.flush()


def check_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def validate_credentials(email: str, password: str, field_prefix: str = "") -> str:
    """Return the normalized e-mail. :raise Invalid: naming the bad field."""
    email = (email or "").strip().lower()
    if not is_email(email):
        raise invalid_field(f"{field_prefix}email", "Not a valid e-mail address.")
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise invalid_field(
            f"{field_prefix}password", f"Use at least {MIN_PASSWORD_LENGTH} characters."
        )
    return email


def create_user(
    session: Session, email: str, password: str, *, role: str = "member",
    organization: Organization | None = None, field_prefix: str = "",
) -> User:
    """:raise Invalid: bad e-mail or password. :raise Conflict: the e-mail is taken."""
    email = validate_credentials(email, password, field_prefix)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(
            f"An account with {email} already exists; log in instead.",
            {"json": field_errors(f"{field_prefix}email", ["Already registered."])},
        )
    user = User(
        email=email, password_hash=hash_password(password), role=role, organization=organization
    )
    session.add(user)
    session.flush()
    return user


def unique_org_slug(session: Session, name: str) -> str:
    base = slugify(name)
    taken = set(
        session.scalars(
            select(Organization.slug).where(
                (Organization.slug == base) | Organization.slug.like(f"{base}-%")
            )
        )
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def sign_up(session: Session, kind: str, name: str, email: str, password: str):
    """Create an organization with its first member and an API key for it.

    :raise Invalid: bad kind, name, e-mail or password. :raise Conflict: e-mail taken.
    :return: (organization, user, IssuedKey)
    """
    if kind not in ("platform", "buyer"):
        raise invalid_field("kind", 'Must be "platform" or "buyer".')
    name = (name or "").strip()
    if not 2 <= len(name) <= 120:
        raise invalid_field("name", "Give a name of 2 to 120 characters.")
    if has_nul(name):
        raise invalid_field("name", NO_NUL)
    organization = Organization(kind=kind, name=name, slug=unique_org_slug(session, name))
    session.add(organization)
    user = create_user(
        session, email, password, organization=organization, field_prefix="owner."
    )
    issued = issue_api_key(session, user, label="created at sign-up")
    return organization, user, issued


def platform_by_slug(session: Session, slug: str) -> Organization:
    """The platform organization `slug`. :raise NotFound: none (a buyer's slug included)."""
    platform = None if has_nul(slug) else session.scalar(
        select(Organization).where(Organization.slug == slug, Organization.kind == "platform"))
    if platform is None:
        raise NotFound(f"No platform {slug!r}.")
    return platform


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None:
        # Hash anyway so a missing account takes as long as a wrong password.
        _hasher.hash(password or "x")
        return None
    return user if check_password(user, password) else None


def issue_api_key(session: Session, user: User, label: str = "") -> IssuedKey:
    """Make a key acting as `user` (and for their organization, if any)."""
    prefix = KEY_PREFIX + secrets.token_hex(4)
    while session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix)) is not None:
        prefix = KEY_PREFIX + secrets.token_hex(4)
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        prefix=prefix,
        secret_hash=_digest(secret),
        user=user,
        organization_id=user.organization_id,
        label=(label or "")[:120],
    )
    session.add(key)
    session.flush()
    return IssuedKey(key=key, secret=secret)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_holder_filter(user: User):
    """Keys a user may list and revoke: their organization's, or their own."""
    if user.organization_id is not None:
        return ApiKey.organization_id == user.organization_id
    return ApiKey.user_id == user.id


def list_api_keys(session: Session, user: User) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey)
            .where(key_holder_filter(user), ApiKey.revoked_at.is_(None))
            .order_by(ApiKey.id)
        )
    )


def revoke_api_key(session: Session, user: User, key_id: int) -> ApiKey:
    """:raise NotFound: no such live key among the user's."""
    key = session.scalar(
        select(ApiKey).where(
            ApiKey.id == key_id, key_holder_filter(user), ApiKey.revoked_at.is_(None)
        )
    )
    if key is None:
        raise NotFound(f"No API key {key_id}.")
    key.revoked_at = utcnow()
    session.flush()
    return key


def resolve_api_key(session: Session, secret: str) -> ApiKey | None:
    """The live key matching `secret`; None when unknown or revoked. Reads only: noting the
    use is `note_key_use` (a writing request) or the `stamp_key_use` job (a read). Raises nothing."""
    if not secret.startswith(KEY_PREFIX) or secret.count("_") < 2:
        return None
    prefix = secret[: len(KEY_PREFIX) + 8]
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.secret_hash, _digest(secret)):
        return None
    return key


def key_use_is_stale(key: ApiKey, now: datetime) -> bool:
    """Whether a use at `now` should be noted: the stamp is missing or older than the resolution."""
    return key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION


def note_key_use(session: Session, key: ApiKey, now: datetime) -> None:
    """Stamp the key's last use with `now`, in the caller's (writing) transaction, unless it was
    stamped within LAST_USED_RESOLUTION. Raises nothing."""
    if key_use_is_stale(key, now):
        key.last_used_at = now
        session.flush()


def stamp_key_use(session: Session, key_id: int, now: datetime) -> bool:
    """`note_key_use` by id, for the job a read queues: one conditional UPDATE, so reads racing
    to stamp write once. Returns whether it wrote; raises nothing (an unknown id writes nothing)."""
    stamped = session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id,
               ApiKey.last_used_at.is_(None) | (ApiKey.last_used_at < now - LAST_USED_RESOLUTION))
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    return stamped.rowcount == 1


def create_admin(session: Session, email: str, password: str | None = None) -> IssuedKey:
    """Make an admin (or reuse the one with that e-mail) and a fresh key for them; with
    `password`, it also becomes their web log-in.

    Without a password, admins log in to the web with one they set later; until then the
    stored hash matches no password.
    :raise Invalid: a bad e-mail, or a password too short. :raise Conflict: the e-mail is a
        non-admin account's.
    """
    email = (email or "").strip().lower()
    if not is_email(email):
        raise invalid_field("email", "Not a valid e-mail address.")
    if password is not None:
        validate_credentials(email, password)
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, password_hash="!unusable", role="admin")
        session.add(user)
        session.flush()
    elif user.role != "admin":
        raise Conflict(f"{email} belongs to a non-admin account.")
    if password is not None:
        set_password(session, user, password)
    return issue_api_key(session, user, label="admin create")
