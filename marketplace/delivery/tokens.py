"""Signed download URLs (itsdangerous): each token names its kind (the export or its manifest),
the license, the version, the earlier version of a delta, the user who asked and the expiry.

A token is a bearer credential for `DOWNLOAD_TTL_SECONDS`: whoever holds the URL may fetch
it until then, like a pre-signed S3 URL (Delta Sharing's model). Any change to it, a token
of another license put in this license's path, or a manifest token used for the export is
refused with a 403.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer

from marketplace.errors import Forbidden

SALT = "dividend.delivery.download"
EXPORT, MANIFEST = "export", "manifest"


@dataclass(frozen=True)
class Grant:
    """What a valid token allows."""

    kind: str
    license_id: int
    version_id: int
    since_version_id: int | None
    user_id: int | None
    expires_at: int  # seconds since the epoch, UTC


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALT)


def epoch(moment: datetime) -> int:
    """A naive UTC datetime as seconds since the epoch."""
    return calendar.timegm(moment.utctimetuple())


def sign(secret: str, grant: Grant) -> str:
    return _serializer(secret).dumps([grant.kind, grant.license_id, grant.version_id, grant.since_version_id,
                                      grant.user_id, grant.expires_at])


def verify(secret: str, token: str, *, kind: str, license_id: int, now: datetime) -> Grant:
    """The grant a token carries, for `kind` and `license_id`.

    :raise Forbidden: tampered or unreadable, another kind or another license, or expired.
    """
    try:
        values = _serializer(secret).loads(token)
        grant = Grant(*values)
    except (BadSignature, TypeError, ValueError):
        raise Forbidden("This download link is not valid: ask for a new one.") from None
    if grant.kind != kind or grant.license_id != license_id:
        raise Forbidden("This download link is not valid here: ask for a new one.")
    if epoch(now) >= grant.expires_at:
        raise Forbidden("This download link has expired: ask for a new one.")
    return grant
