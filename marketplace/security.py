"""Web security every response carries: the Content-Security-Policy and its companions, HSTS and
secure cookies behind https; a development server whose Server header names no software; and a
signing key that is not the development one.

The CSP allows scripts, styles, fonts and images from our own origin only (templates keep no
inline <script>, <style> or style=""; data lives in <script type="application/json"> blocks,
which are not run), plus Stripe.js and its frames on the payment page: js.stripe.com with
Stripe, the configured localstripe in development and tests.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask

#: The signing key `config.load()` falls back to when none is configured: for debug and tests.
DEVELOPMENT_SECRET_KEY = "dev-only-not-secret"

#: What names the server in the `Server` header (never Werkzeug or Python with their versions).
SERVER_HEADER = "Dividend"


class InsecureConfiguration(RuntimeError):
    """The app would run in production with a setting that is only safe in development."""


def check_secret_key(app: Flask) -> None:
    """:raise InsecureConfiguration: no real SECRET_KEY outside debug and testing. With the
    development key anyone can sign a session cookie for any account, the admin's included."""
    key = app.config.get("SECRET_KEY")
    if app.debug or app.testing:
        if not key:
            app.config["SECRET_KEY"] = DEVELOPMENT_SECRET_KEY
        return
    if not key or key == DEVELOPMENT_SECRET_KEY or len(str(key)) < 16:
        raise InsecureConfiguration(
            "Set DIVIDEND_SECRET_KEY to a long random secret (python -c 'import secrets; "
            "print(secrets.token_hex(32))'); for local use `make db` writes one to "
            "instance/secret_key. Dividend refuses to run on the development key outside "
            "debug (FLASK_DEBUG=1) because anyone could sign a session cookie with it.")


def stripe_origins(config) -> dict[str, list[str]]:
    """Where Stripe.js comes from and talks to: Stripe's hosts, or the configured stand-in."""
    base = config["STRIPE_API_BASE"].rstrip("/")
    if "api.stripe.com" in base:
        return {"script": ["https://js.stripe.com"],
                "frame": ["https://js.stripe.com", "https://hooks.stripe.com"],
                "connect": ["https://api.stripe.com"]}
    parts = urlsplit(base)
    origin = f"{parts.scheme}://{parts.netloc}"
    return {"script": [origin], "frame": [origin], "connect": [origin]}


def content_security_policy(config) -> str:
    stripe = stripe_origins(config)
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *stripe["script"]],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", *stripe["connect"]],
        "frame-src": stripe["frame"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def is_https(config) -> bool:
    return config["BASE_URL"].lower().startswith("https://")


def register(app: Flask) -> None:
    """Check the key, set the cookie flags, and add the headers to every response.

    Call before the extensions that add headers of their own (the rate limiter's Retry-After):
    Flask runs `after_request` functions last-registered first, so this one sees their result.
    """
    check_secret_key(app)
    _name_the_development_server()
    https = is_https(app.config)
    if https:
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    policy = content_security_policy(app.config)

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        if https:
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        _retry_after_at_least_one_second(response)
        return response


def trust_proxies(app: Flask, hops: int) -> None:
    """Behind `hops` reverse proxies, take the client's address and scheme from the
    X-Forwarded-For and X-Forwarded-Proto they set (the rate limits key on the address).
    Only as many entries as there are proxies are read from the right: a client can't
    pretend to be another address by sending the headers itself."""
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def _name_the_development_server() -> None:
    """`flask run` (Werkzeug's server) says `Server: Werkzeug/3.x Python/3.11`, whatever the app
    answers (http.server sends it before the app's headers): make it say `Dividend`. Gunicorn
    says `gunicorn`, without a version; gunicorn.conf.py may rename it the same way."""
    from werkzeug.serving import WSGIRequestHandler

    WSGIRequestHandler.version_string = lambda self: SERVER_HEADER


def _retry_after_at_least_one_second(response) -> None:
    """Flask-Limiter truncates the seconds left to an int: 0 in the window's last second, which
    tells a client to retry at once and be refused again. Round up to at least 1."""
    value = response.headers.get("Retry-After")
    if value is not None and value.lstrip("-").isdigit() and int(value) < 1:
        response.headers["Retry-After"] = "1"
