"""Web security: CSRF on every form, the security headers on every response, no inline script or
style a CSP would refuse, HSTS and secure cookies behind https, a real signing key, and no secret
in the logs of a whole journey."""
from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from marketplace import security
from tests import factories
from tests.sales import sell
from tests.test_authorization_matrix import ROLES, parse_matrix, MATRIX, table_rule, url_for_rule, world  # noqa: F401
from tests.test_get_never_writes import jobs_held, writes_refused

ROOT = Path(__file__).resolve().parent.parent


def form_routes(app):
    """POST routes served by HTML views: everything but the JSON API and Stripe's webhook
    (both exempt from CSRF, they authenticate by key or signature)."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "POST" in rule.methods and not rule.rule.startswith(("/api/", "/webhooks/")):
            yield rule


def login_with_token(client, who: dict) -> None:
    token = factories.token_from(client.get("/login"))
    response = client.post("/login", data={"email": who["email"], "password": who["password"],
                                           "csrf_token": token})
    assert response.status_code == 302, response.data[:300]


def test_every_form_refuses_a_post_without_its_csrf_token(app, world, csrf):
    """Each form posted without a token, as a role allowed to post it: 400, nothing written."""
    values, people = world
    table = parse_matrix(MATRIX)
    checked = []
    for rule in form_routes(app):
        cells = table[("POST", table_rule(rule))]
        allowed = [r for r in ROLES if cells[r] not in ("login", "403", "404")]
        role = (allowed or [r for r in ROLES if cells[r] not in ("login", "403")])[0]
        who = people[role]
        client = app.test_client()
        url = url_for_rule(rule, values)
        with app.app_context():  # a `g` of its own: the logged-in user isn't kept from the last one
            if who is not None:
                login_with_token(client, who)
        with app.app_context(), jobs_held(), writes_refused() as seen:
            response = client.post(url, data={"name": "x", "email": "a@example.test", "password": "p" * 10})
        assert response.status_code == 400, f"POST {url} as {role} without a token: {response.status_code}"
        assert not seen, f"POST {url} without a token wrote: {seen[0][:200]}"
        checked.append(rule.rule)
    assert {"/login", "/logout", "/signup", "/claim", "/me/erasure", "/platform/datasets/new"} <= set(checked)
    assert len(checked) >= 30


def test_the_csrf_check_passes_with_the_token(app, client, platform, csrf):
    """The other side of the check: the same form with its token goes through."""
    login_with_token(client, platform)
    page = client.get("/platform/datasets/new")
    response = client.post("/platform/datasets/new", data={"csrf_token": factories.token_from(page)})
    assert response.status_code == 422  # past the CSRF check, to the form's own validation


def anonymous_urls(app):
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments:
            yield rule.rule


def assert_security_headers(response, url: str, app) -> None:
    headers = response.headers
    policy = headers.get("Content-Security-Policy", "")
    assert policy == security.content_security_policy(app.config), url
    assert "frame-ancestors 'none'" in policy and "style-src 'self';" in policy
    assert "script-src 'self' http://127.0.0.1:8420;" in policy  # localstripe's Stripe.js in tests
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert headers.get("X-Content-Type-Options") == "nosniff", url
    assert headers.get("X-Frame-Options") == "DENY", url
    assert headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", url
    assert "Strict-Transport-Security" not in headers, url  # http here: see the https test


def test_every_response_carries_the_security_headers(app, client, platform):
    urls = sorted(anonymous_urls(app)) + [
        "/static/css/dividend.css", "/no-such-page", "/api/v1/no-such-thing", "/platform/datasets",
        "/api/v1/licenses", "/favicon.ico"]
    for url in urls:
        response = client.get(url)
        response.get_data()
        response.close()
        assert_security_headers(response, url, app)
    for response in (client.post("/webhooks/stripe", data=b"{}"),
                     client.post("/api/v1/datasets", json={}, headers=platform["headers"]),
                     client.delete("/datasets")):
        assert_security_headers(response, response.request.path, app)


def test_the_server_header_names_no_software(app):
    """Werkzeug's server (`flask run`, `make run`) named itself and Python with their versions:
    served by it here, over a socket, a static file answers `Server: Dividend` alone."""
    import threading
    import urllib.request

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/static/css/dividend.css"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
            assert response.headers.get_all("Server") == ["Dividend"]
            assert response.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        thread.join(timeout=10)
        server.server_close()


def test_the_policy_names_stripe_when_the_api_is_stripes():
    policy = security.content_security_policy({"STRIPE_API_BASE": "https://api.stripe.com"})
    assert "script-src 'self' https://js.stripe.com;" in policy
    assert "frame-src https://js.stripe.com https://hooks.stripe.com;" in policy
    assert "connect-src 'self' https://api.stripe.com;" in policy


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"<style\b", re.I), "a <style> block"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an inline event handler"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def test_templates_hold_no_inline_script_or_style():
    """The CSP refuses them: scripts and styles live in static/ (data in application/json blocks)."""
    found = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = re.sub(r"\{#.*?#\}", lambda m: "\n" * m.group().count("\n"), path.read_text(), flags=re.S)
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert not found, "\n".join(found)


def test_the_inline_check_catches_an_inline_script():
    assert INLINE[0][0].search('<script>alert(1)</script>')
    assert not INLINE[0][0].search('<script src="/static/x.js"></script>')
    assert not INLINE[0][0].search('<script type="application/json" id="d">{}</script>')
    assert INLINE[2][0].search('<div style="color: red">')


def run_app(env_overrides: dict, code: str) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter that builds the app from the environment (as gunicorn does)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DIVIDEND_", "FLASK_"))}
    env.update({"DIVIDEND_DATABASE_URL": "sqlite://", "DIVIDEND_JOBS": "immediate"})
    env.update(env_overrides)
    program = "from marketplace import create_app\napp = create_app()\n" + code
    return subprocess.run([sys.executable, "-c", program], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_https_base_url_turns_on_hsts_and_secure_cookies():
    ran = run_app({"DIVIDEND_BASE_URL": "https://dividend.example", "DIVIDEND_SECRET_KEY": "k" * 40}, """
client = app.test_client()
response = client.get("/login")
print(response.headers["Strict-Transport-Security"])
print(response.headers["Set-Cookie"])
""")
    assert ran.returncode == 0, ran.stderr[-2000:]
    hsts, cookie = ran.stdout.strip().splitlines()[-2:]
    assert hsts == "max-age=31536000; includeSubDomains"
    assert cookie.startswith("session=") and "; Secure" in cookie and "HttpOnly" in cookie


@pytest.mark.parametrize("key", [security.DEVELOPMENT_SECRET_KEY, "short"])
def test_the_app_refuses_to_start_on_a_development_key(key):
    """A session cookie signed with the development key opened /admin/ledger: outside debug and
    tests, no app is built on it."""
    ran = run_app({"DIVIDEND_SECRET_KEY": key}, "print('started')")
    assert ran.returncode != 0 and "started" not in ran.stdout
    assert "InsecureConfiguration" in ran.stderr and "DIVIDEND_SECRET_KEY" in ran.stderr


def test_the_app_starts_on_a_real_key_or_in_debug():
    real = run_app({"DIVIDEND_SECRET_KEY": "a-long-random-production-secret"}, "print(app.config['SECRET_KEY'])")
    assert real.returncode == 0, real.stderr[-2000:]
    assert real.stdout.strip() == "a-long-random-production-secret"
    debug = run_app({"DIVIDEND_SECRET_KEY": security.DEVELOPMENT_SECRET_KEY, "FLASK_DEBUG": "1"}, "print('started')")
    assert debug.returncode == 0 and debug.stdout.strip() == "started", debug.stderr[-2000:]


def test_no_secret_reaches_the_logs_of_a_whole_journey(app, client, runner, stripe_gateway, caplog):
    """Sign up on the web, make an API key, publish, buy, get paid by webhook, claim, log in and
    out: no password, key, session cookie, claim code or Stripe secret in any log record."""
    caplog.set_level(logging.DEBUG)
    secrets = [app.config["SECRET_KEY"], app.config["STRIPE_SECRET_KEY"], app.config["STRIPE_WEBHOOK_SECRET"]]
    password = "journey-password-1"
    signed_up = client.post("/signup", data={"kind": "platform", "name": "Journey Co",
                                             "email": "journey@example.test", "password": password})
    assert signed_up.status_code == 302
    secrets += [password, client.get_cookie("session").value]
    page = client.post("/account/keys", data={"label": "importer"})
    key = re.search(rb"dvd_[0-9a-f]{8}_[A-Za-z0-9_-]+", page.data).group().decode()
    secrets.append(key)
    buyer = factories.signup(client, "buyer", "Journey Lab")
    secrets += [buyer["api_key"], buyer["password"]]
    owner = {"headers": factories.bearer(key)}
    dataset = factories.published_dataset(client, owner, n_records=3)
    license = sell(client, app, buyer, dataset["offers"][0]["id"])
    download = client.post(f"/api/v1/licenses/{license['id']}/downloads", json={}, headers=buyer["headers"])
    assert download.status_code == 201
    secrets.append(download.get_json()["url"].rsplit("/", 1)[1])
    code = client.post("/api/v1/contributors/u1/claim-codes", headers=owner["headers"])
    assert code.status_code == 201, code.get_json()
    claim_code = code.get_json()["code"]
    secrets.append(claim_code)
    visitor = app.test_client()
    claim = visitor.post("/claim", data={"code": claim_code, "email": "person@example.test",
                                         "password": "person-password-1"})
    assert claim.status_code == 302, claim.data[:300]
    secrets += ["person-password-1", visitor.get_cookie("session").value]
    wrong = visitor.post("/login", data={"email": "journey@example.test", "password": "wrong-password-9"})
    assert wrong.status_code in (302, 422)
    secrets.append("wrong-password-9")
    assert visitor.post("/logout").status_code == 302
    logged = "\n".join(f"{record.name} {record.getMessage()} {record.exc_text or ''}" for record in caplog.records)
    assert caplog.records, "the journey logged nothing: the capture is not working"
    leaked = [secret for secret in secrets if secret and secret in logged]
    assert not leaked, f"secrets in the logs: {[secret[:12] + '…' for secret in leaked]}"
