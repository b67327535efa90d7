"""Known devices: a browser an account has logged in from before is not locked out with it.

Failed log-ins count per account from every address (extensions.LOGIN_FAILURES_PER_ACCOUNT), so
a guesser spread over many addresses is stopped. Alone, that would let anybody keep a person out
by sending ten wrong passwords every quarter of an hour. A successful log-in leaves a signed
cookie naming the account; a log-in for that account from a browser holding it skips the
per-account limit (the per-address one still applies), so the attack locks out only browsers the
person never used. (OWASP's "device cookies".)
"""
from __future__ import annotations

import hashlib
import hmac

from flask import Response, current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from marketplace import security

COOKIE = "dividend_device"
#: A device stays known for a year after its last successful log-in.
MAX_AGE = 365 * 24 * 3600
_SALT = "known-device"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def normalized(email: str | None) -> str:
    return (email or "").strip().lower()[:254]


def _account_digest(email: str | None) -> str:
    """What the cookie names: a digest of the address, not the address (a cookie is readable by
    whoever uses the browser next; the signature only stops it being forged)."""
    return hashlib.sha256(normalized(email).encode()).hexdigest()


def remember(response: Response, email: str) -> None:
    """Mark this browser as one `email` logged in from."""
    response.set_cookie(COOKIE, _serializer().dumps(_account_digest(email)), max_age=MAX_AGE, httponly=True,
                        samesite="Lax", secure=security.is_https(current_app.config))


def is_known(email: str | None) -> bool:
    """Whether the request's browser has logged in as `email` before."""
    token = request.cookies.get(COOKIE)
    if not token or not email:
        return False
    try:
        return hmac.compare_digest(str(_serializer().loads(token, max_age=MAX_AGE)), _account_digest(email))
    except BadSignature:
        return False
