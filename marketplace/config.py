"""Configuration: defaults, overridden by `DIVIDEND_*` environment variables.

Every option is documented once, here; README.md points at this module.
"""
from __future__ import annotations

import os
from pathlib import Path

#: The EU's 27 countries, the rest of the EEA (IS, LI, NO), GB and KR: regions
#: whose contributors are included only when they granted consent (SPEC.md).
DEFAULT_OPT_IN_REGIONS = (
    "AT,BE,BG,HR,CY,CZ,DK,EE,FI,FR,DE,GR,HU,IE,IT,LV,LT,LU,MT,NL,PL,PT,RO,SK,SI,ES,SE,"
    "IS,LI,NO,GB,KR"
)

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(f"DIVIDEND_{name}")
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"DIVIDEND_{name} must be an integer, got {raw!r}") from exc


def _str(name: str, default: str) -> str:
    return os.environ.get(f"DIVIDEND_{name}") or default


def load() -> dict:
    """Build the Flask config mapping from the environment."""
    database_url = _str("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'dividend.sqlite3'}")
    return {
        #: SQLAlchemy URL. SQLite (default, under instance/) or postgresql+psycopg://…
        "SQLALCHEMY_DATABASE_URI": normalize_database_url(database_url),
        #: Signs sessions and CSRF tokens: a long random secret. Without it, the key `make db`
        #: wrote to instance/secret_key; without that, the app starts only in debug or tests.
        "SECRET_KEY": _str("SECRET_KEY", "") or _instance_secret_key(),
        #: Stripe (or localstripe) credentials; the defaults are localstripe's fakes.
        "STRIPE_SECRET_KEY": _str("STRIPE_SECRET_KEY", "sk_test_local_fake"),
        "STRIPE_PUBLISHABLE_KEY": _str("STRIPE_PUBLISHABLE_KEY", "pk_test_local_fake"),
        "STRIPE_WEBHOOK_SECRET": _str("STRIPE_WEBHOOK_SECRET", "whsec_local_fake"),
        #: Base of the Stripe API; points at localstripe in development and tests.
        "STRIPE_API_BASE": _str("STRIPE_API_BASE", "http://127.0.0.1:8420"),
        #: Absolute base URL used in links the app hands out.
        "BASE_URL": _str("BASE_URL", "http://127.0.0.1:5000"),
        #: The one ISO 4217 currency of this installation, lower case.
        "CURRENCY": _str("CURRENCY", "usd").lower(),
        #: The marketplace's fee on each payment, in basis points of the gross.
        "MARKETPLACE_FEE_BPS": _int("MARKETPLACE_FEE_BPS", 500),
        #: The lowest contributor share an offer may set, in basis points of the net.
        "MIN_CONTRIBUTOR_SHARE_BPS": _int("MIN_CONTRIBUTOR_SHARE_BPS", 5000),
        #: The highest price of one payment, in minor units: offers priced above it (flat, or on their
        #: latest version) are refused. Stripe's ceiling, 99,999,999, is the default and the most.
        "MAX_CHARGE": _int("MAX_CHARGE", 99_999_999),
        #: Licenses a buyer organization may have waiting for payment at once (each holds a
        #: PaymentIntent, and an exclusive offer's reservation); pay or cancel one to start another.
        "MAX_PENDING_LICENSES": _int("MAX_PENDING_LICENSES", 10),
        #: Hours a buyer whose reservation of an exclusive offer ended unpaid (lapsed or canceled)
        #: waits before reserving that offer again; other buyers may meanwhile. 0 turns it off.
        "EXCLUSIVE_RESERVATION_COOLDOWN_HOURS": _int("EXCLUSIVE_RESERVATION_COOLDOWN_HOURS", 24),
        #: A payable is paid out once it reaches this many minor units.
        "PAYOUT_THRESHOLD": _int("PAYOUT_THRESHOLD", 100),
        #: Regions whose contributors must opt in, whatever the dataset's policy.
        "OPT_IN_REGIONS": frozenset(
            code.strip().upper()
            for code in _str("OPT_IN_REGIONS", DEFAULT_OPT_IN_REGIONS).split(",")
            if code.strip()
        ),
        #: Days a claim code stays valid after it is issued (then the platform issues a new one).
        "CLAIM_CODE_DAYS": _int("CLAIM_CODE_DAYS", 30),
        #: Seconds a dataset's public transparency report is reused while nothing it is computed
        #: from changed (marketplace/transparency/cache.py); 0 computes it on every view.
        "TRANSPARENCY_CACHE_SECONDS": _int("TRANSPARENCY_CACHE_SECONDS", 60),
        #: Seconds a download's signed URLs (the export and its manifest) stay valid.
        "DOWNLOAD_TTL_SECONDS": _int("DOWNLOAD_TTL_SECONDS", 900),
        #: Days a buyer has to acknowledge a withdrawal before the transparency report counts
        #: its license as overdue.
        "ACK_OVERDUE_DAYS": _int("ACK_OVERDUE_DAYS", 30),
        #: An import leaving at most this many records unscanned for personal data scans them in
        #: its own request; more go to a background job (marketplace/pii).
        "PII_INLINE_SCAN_MAX": _int("PII_INLINE_SCAN_MAX", 5_000),
        #: Processes the background scan and `flask pii scan` use; 0 means every core.
        "PII_SCAN_PROCESSES": _int("PII_SCAN_PROCESSES", 0),
        #: Records one scan job handles in one transaction before it queues the rest.
        "PII_JOB_SLICE": _int("PII_JOB_SLICE", 200_000),
        #: Job queue: "immediate", a SQLite file path, or a redis:// URL.
        "JOBS": _str("JOBS", str(INSTANCE_DIR / "jobs.sqlite3")),
        #: Rate-limit storage (a Flask-Limiter/limits URI). Memory counts per process, useless
        #: behind several workers: when unset it is the Redis of DIVIDEND_JOBS if that is a
        #: redis:// URL, else memory://.
        "RATELIMIT_STORAGE_URI": _str("RATELIMIT_STORAGE_URI", "") or _ratelimit_storage_default(),
        #: Largest request body accepted, in bytes, but where a file is imported (1 MiB: JSON and forms).
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 1024 * 1024),
        #: Largest body of an import (records and consent NDJSON, the records upload page, payout
        #: results), in bytes; read as a stream (marketplace/body_limits.py).
        "MAX_IMPORT_LENGTH": _int("MAX_IMPORT_LENGTH", 512 * 1024 * 1024),
        #: How many proxies in front set X-Forwarded-For and X-Forwarded-Proto (0: none, the
        #: client's address is the socket's). Behind one reverse proxy, 1: otherwise every client
        #: is the proxy's address, and each per-address rate limit is shared by all of them.
        "PROXY_HOPS": _int("PROXY_HOPS", 0),
        # Fixed settings below: not configurable from the environment.
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "RATELIMIT_HEADERS_ENABLED": True,
        #: A sliding window: a burst at a fixed window's edge can't pass twice the limit.
        "RATELIMIT_STRATEGY": "moving-window",
        "API_TITLE": "Dividend API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "v1/openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/static/vendor/swagger-ui/",
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
    }


def _instance_secret_key() -> str:
    path = INSTANCE_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _ratelimit_storage_default() -> str:
    jobs = _str("JOBS", "")
    if jobs.startswith(("redis://", "rediss://")):
        return jobs
    return "memory://"


def normalize_database_url(url: str) -> str:
    """Let `postgresql://` and `postgres://` URLs use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
