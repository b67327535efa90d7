"""Who is calling: sessions for web pages, bearer keys for the JSON API."""
from __future__ import annotations

import functools
from dataclasses import dataclass

from flask import request
from flask_login import LoginManager, current_user

from marketplace.accounts import jobs, services
from marketplace.accounts.models import ApiKey, Organization, User
from marketplace.boundary import SAFE_METHODS, after_commit
from marketplace.db import utcnow
from marketplace.errors import DomainError, Forbidden
from marketplace.extensions import db

#: The OpenAPI security requirement of every keyed endpoint.
BEARER = [{"bearer": []}]


class Unauthorized(DomainError):
    code = 401


@dataclass(frozen=True)
class Principal:
    user: User
    organization: Organization | None

    @property
    def kind(self) -> str:
        """"platform", "buyer", "contributor" or "admin"."""
        if self.user.role in ("admin", "contributor"):
            return self.user.role
        return self.organization.kind


def init_login(manager: LoginManager) -> None:
    manager.login_view = "accounts.login"
    manager.login_message = "Log in to continue."
    manager.login_message_category = "info"

    @manager.user_loader
    def load_user(session_id: str) -> User | None:
        """The user of a session cookie, unless they logged out or changed their password since
        it was issued (its version is older than theirs); a cookie from before versions, none."""
        user_id, _, version = session_id.partition(":")
        if not (user_id.isdecimal() and version.isdecimal()):
            return None
        user = db.session.get(User, int(user_id))
        if user is None or user.session_version != int(version):
            return None
        return user


def api_principal() -> Principal:
    """The caller of an API request. :raise Unauthorized: no, bad or revoked key."""
    # Cached on the request itself: an app context (and its `g`) can outlive one request.
    cached = request.environ.get("dividend.principal")
    if cached is not None:
        return cached
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("Send an API key: Authorization: Bearer <key>.")
    key = services.resolve_api_key(db.session, secret.strip())
    if key is None:
        raise Unauthorized("The API key is unknown or revoked.")
    _note_use(key)
    principal = Principal(user=key.user, organization=key.organization)
    request.environ["dividend.principal"] = principal
    return principal


def _note_use(key: ApiKey) -> None:
    """A writing request notes the key's use in its own transaction; a read never writes, so
    a job stamps it once the read is done (and only when the stamp is stale: no job a call)."""
    now = utcnow()
    if request.method not in SAFE_METHODS:
        services.note_key_use(db.session, key, now)
    elif services.key_use_is_stale(key, now):
        after_commit(jobs.stamp_key_use, key.id, now)


def require_api(*kinds: str):
    """Decorate an API view: a valid key, of one of `kinds` when given (else 403)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = api_principal()
            if kinds and principal.kind not in kinds:
                raise Forbidden(f"This call is for {' or '.join(kinds)} accounts.")
            return view(*args, **kwargs)

        return wrapper

    return decorate


def web_principal() -> Principal | None:
    if not current_user.is_authenticated:
        return None
    return Principal(user=current_user, organization=current_user.organization)


def viewer_organization_id() -> int | None:
    """The organization of whoever is looking, by API key or web session; None if anonymous.

    Public catalog reads use it to show a platform its own drafts.
    """
    if request.headers.get("Authorization"):
        principal = api_principal()
    else:
        principal = web_principal()
    if principal is None or principal.organization is None:
        return None
    return principal.organization.id
