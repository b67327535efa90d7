"""Sessions end when they should, and the rate limits answer 429 with a usable Retry-After.

Found by probing a running instance: a session cookie saved before log-out still opened
/platform/datasets; the same account took 10 more wrong passwords from a second address; a 429
said `Retry-After: 0`.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from marketplace import config as config_module
from marketplace import security
from marketplace.extensions import limiter
from tests import factories

ROOT = Path(__file__).resolve().parent.parent.parent


def cookie_of(client) -> str:
    return client.get_cookie("session").value


def replay(app, cookie: str, url: str):
    """`url` from another browser holding a copy of the cookie."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    with app.app_context():  # its own `g`: no user remembered from the test's requests
        return other.get(url)


def test_a_cookie_saved_before_logout_opens_nothing_after(app, client, platform):
    factories.login(client, platform)
    saved = cookie_of(client)
    assert replay(app, saved, "/platform/datasets").status_code == 200
    assert client.post("/logout").status_code == 302
    replayed = replay(app, saved, "/platform/datasets")
    assert replayed.status_code == 302 and replayed.location.startswith("/login")


def test_logout_ends_the_sessions_of_other_browsers_too(app, platform):
    laptop, phone = app.test_client(), app.test_client()
    with app.app_context():
        factories.login(laptop, platform)
    with app.app_context():
        factories.login(phone, platform)
    with app.app_context():
        assert laptop.post("/logout").status_code == 302
    with app.app_context():
        assert phone.get("/platform/datasets").status_code == 302
    with app.app_context():  # and a new log-in works again
        factories.login(phone, platform)
        assert phone.get("/platform/datasets").status_code == 200


def test_a_new_password_ends_every_session(app, runner):
    email = "rotating-admin@example.test"
    assert runner.invoke(args=["admin", "create", email, "--password", "first-password-1"]).exit_code == 0
    browser = app.test_client()
    with app.app_context():
        factories.login(browser, {"email": email, "password": "first-password-1"})
        assert browser.get("/admin/ledger").status_code == 200
    saved = cookie_of(browser)
    assert runner.invoke(args=["admin", "create", email, "--password", "second-password-2"]).exit_code == 0
    replayed = replay(app, saved, "/admin/ledger")
    assert replayed.status_code == 302 and replayed.location.startswith("/login")


def test_a_cookie_without_a_session_version_loads_nobody(app, client, platform):
    """Cookies issued before versions (a bare user id) are logged out, not trusted."""
    factories.login(client, platform)
    with client.session_transaction() as session:
        session["_user_id"] = session["_user_id"].partition(":")[0]
    with app.app_context():
        assert client.get("/platform/datasets").status_code == 302


def wrong_login(client, email: str, address: str, headers: dict):
    return client.post("/login", data={"email": email, "password": "not-the-password"},
                       headers=headers, environ_base={"REMOTE_ADDR": address})


def test_failed_logins_are_limited_per_account_from_any_address(app, client, platform, rate_limited):
    """10 wrong passwords within 15 minutes from two addresses (5 each, under the per-address
    limit), then the account refuses attempts from a third: 429 with Retry-After, even with the
    right password. Another account from the same address is untouched."""
    for n in range(10):
        answered = wrong_login(client, platform["email"], f"127.0.0.{2 + n % 2}", rate_limited)
        assert answered.status_code == 422, n
    refused = wrong_login(client, platform["email"], "127.0.0.4", rate_limited)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 15 * 60
    right = client.post("/login", data={"email": platform["email"], "password": platform["password"]},
                        headers=rate_limited, environ_base={"REMOTE_ADDR": "127.0.0.5"})
    assert right.status_code == 429
    other = factories.signup(client, "buyer", "Other Lab")
    assert client.post("/login", data={"email": other["email"], "password": other["password"]},
                       headers=rate_limited, environ_base={"REMOTE_ADDR": "127.0.0.4"}).status_code == 302


def right_login(browser, account: dict, address: str, headers: dict):
    return browser.post("/login", data={"email": account["email"], "password": account["password"]},
                        headers=headers, environ_base={"REMOTE_ADDR": address})


def test_a_browser_the_person_logged_in_from_is_not_locked_out_with_the_account(app, platform, rate_limited):
    """Somebody else's ten wrong passwords lock the account for new browsers only: the person's
    own browser (its signed device cookie from an earlier log-in) still gets in."""
    laptop, stranger = app.test_client(), app.test_client()
    with app.app_context():
        first = right_login(laptop, platform, "127.0.2.1", rate_limited)
        assert first.status_code == 302 and laptop.get_cookie("dividend_device") is not None
        assert laptop.post("/logout").status_code == 302
    for n in range(10):
        assert wrong_login(stranger, platform["email"], f"127.0.2.{10 + n % 2}", rate_limited).status_code == 422
    with app.app_context():
        assert right_login(stranger, platform, "127.0.2.12", rate_limited).status_code == 429
    with app.app_context():
        assert right_login(laptop, platform, "127.0.2.1", rate_limited).status_code == 302
    # The cookie names its account: it opens no other, and a forged one opens nothing.
    other = factories.signup(app.test_client(), "buyer", "Locked Lab")
    for n in range(10):
        wrong_login(stranger, other["email"], f"127.0.3.{n}", rate_limited)
    with app.app_context():
        assert right_login(laptop, other, "127.0.2.1", rate_limited).status_code == 429
        forger = app.test_client()
        forger.set_cookie("dividend_device", laptop.get_cookie("dividend_device").value[:-2] + "xx")
        assert right_login(forger, platform, "127.0.2.13", rate_limited).status_code == 429


def test_behind_a_proxy_each_client_address_counts_alone(app, client, monkeypatch, rate_limited):
    """DIVIDEND_PROXY_HOPS=1: the address is the one the proxy appended to X-Forwarded-For, not
    the proxy's (which every client would share) nor one the client wrote in the header itself."""
    monkeypatch.setattr(app, "wsgi_app", app.wsgi_app)  # put back after the test

    def attempt(n: int, forwarded: str):
        return client.post("/login", data={"email": f"proxied{n}@example.test", "password": "x" * 12},
                           headers={**rate_limited, "X-Forwarded-For": forwarded},
                           environ_base={"REMOTE_ADDR": "127.0.0.1"})

    # Without hops configured the header is not believed: all of it is the socket's address.
    for n in range(10):
        assert attempt(n, f"203.0.113.{n}").status_code == 422
    assert attempt(10, "203.0.113.99").status_code == 429
    limiter.reset()
    security.trust_proxies(app, 1)
    for n in range(10):
        assert attempt(n, "203.0.113.7").status_code == 422
    assert attempt(10, "203.0.113.7").status_code == 429
    assert attempt(11, "203.0.113.8").status_code == 422
    # A client's own header comes first; the proxy appends the address it saw.
    assert attempt(12, "203.0.113.8, 203.0.113.7").status_code == 429


def test_successful_logins_do_not_count_against_the_account(app, client, platform, rate_limited):
    for n in range(12):
        with app.app_context():
            browser = app.test_client()
            answered = browser.post("/login", data={"email": platform["email"], "password": platform["password"]},
                                    headers=rate_limited, environ_base={"REMOTE_ADDR": f"127.0.1.{n}"})
        assert answered.status_code == 302, n


def test_login_is_limited_per_address(client, rate_limited):
    for n in range(10):
        assert wrong_login(client, f"nobody{n}@example.test", "127.0.0.9", rate_limited).status_code == 422
    refused = wrong_login(client, "nobody-else@example.test", "127.0.0.9", rate_limited)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


#: (method, url, how many pass, body): each limited endpoint, called anonymously with a bad body.
LIMITED = [
    ("POST", "/signup", 20, {"data": {}}),
    ("POST", "/api/v1/organizations", 20, {"json": {}}),
    ("POST", "/claim", 10, {"data": {}}),
    ("POST", "/api/v1/contributors/claim", 10, {"json": {}}),
    ("POST", "/licenses/1/download", 60, {"data": {}}),
    ("POST", "/api/v1/licenses/1/downloads", 60, {"json": {}}),
    ("GET", "/api/v1/licenses/1/export/not-a-token", 60, {}),
    ("POST", "/me/payout-account", 10, {"data": {}}),
    ("PUT", "/api/v1/me/payout-account", 10, {"json": {}}),
]


@pytest.mark.parametrize(("method", "url", "allowed", "body"), LIMITED, ids=[f"{m} {u}" for m, u, _, _ in LIMITED])
def test_limited_endpoints_answer_429_with_retry_after(client, rate_limited, method, url, allowed, body):
    for n in range(allowed):
        answered = client.open(url, method=method, headers=rate_limited, **body)
        assert answered.status_code != 429, f"{method} {url}: refused after {n} calls"
    refused = client.open(url, method=method, headers=rate_limited, **body)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    if url.startswith("/api/"):
        assert refused.get_json()["code"] == 429 or refused.get_json()["status"] == 429


def test_retry_after_is_never_zero(client, rate_limited, monkeypatch):
    """Flask-Limiter truncates the seconds left: in the last second of a window it said 0.
    Seen from a clock 61 s on (every window of a minute ends by then), it would say 0 or less."""
    import flask_limiter._extension as extension

    class Later:
        @staticmethod
        def time():
            return time.time() + 61

        def __getattr__(self, name):
            return getattr(time, name)

    for n in range(10):
        wrong_login(client, f"later{n}@example.test", "127.0.0.10", rate_limited)
    monkeypatch.setattr(extension, "time", Later())
    refused = wrong_login(client, "later@example.test", "127.0.0.10", rate_limited)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) == 1


def test_the_limiter_uses_the_jobs_redis_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("DIVIDEND_RATELIMIT_STORAGE_URI", raising=False)
    monkeypatch.setenv("DIVIDEND_JOBS", "redis://127.0.0.1:6379/3")
    assert config_module.load()["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"
    monkeypatch.setenv("DIVIDEND_RATELIMIT_STORAGE_URI", "redis://cache.internal:6379/1")
    assert config_module.load()["RATELIMIT_STORAGE_URI"] == "redis://cache.internal:6379/1"
    monkeypatch.delenv("DIVIDEND_RATELIMIT_STORAGE_URI")
    monkeypatch.setenv("DIVIDEND_JOBS", "immediate")
    assert config_module.load()["RATELIMIT_STORAGE_URI"] == "memory://"


def redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=6379, socket_timeout=1).ping())
    except redis.RedisError:
        return False


#: Two processes of the app (as two gunicorn workers would be) count against one Redis.
WORKER = """
import sys
from marketplace import create_app
app = create_app({"RATELIMIT_KEY_PREFIX": sys.argv[1], "WTF_CSRF_ENABLED": False})
client = app.test_client()
statuses = [client.post("/login", data={"email": "target@example.test", "password": "wrong-password"},
                        environ_base={"REMOTE_ADDR": sys.argv[2]}).status_code for _ in range(int(sys.argv[3]))]
print(" ".join(map(str, statuses)))
"""


def test_two_processes_share_the_account_limit_on_redis(tmp_path):
    if not redis_reachable():
        pytest.skip("Redis is not reachable at 127.0.0.1:6379: the shared-storage test needs it")
    import redis

    prefix = f"dividend-test-{uuid.uuid4().hex[:12]}"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DIVIDEND_", "FLASK_"))}
    env.update({"DIVIDEND_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "DIVIDEND_JOBS": "immediate",
                "DIVIDEND_SECRET_KEY": "redis-limit-test-secret-key",
                "DIVIDEND_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/14"})
    flask = str(Path(sys.executable).with_name("flask"))
    subprocess.run([flask, "--app", "app", "db", "upgrade"], env=env, check=True, capture_output=True, cwd=ROOT)
    try:
        first = subprocess.run([sys.executable, "-c", WORKER, prefix, "127.0.0.2", "6"], env=env, cwd=ROOT,
                               capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr[-2000:]
        second = subprocess.run([sys.executable, "-c", WORKER, prefix, "127.0.0.3", "6"], env=env, cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr[-2000:]
        assert first.stdout.split() == ["422"] * 6
        assert second.stdout.split() == ["422"] * 4 + ["429"] * 2
    finally:
        store = redis.Redis(host="127.0.0.1", port=6379, db=14)
        keys = list(store.scan_iter(f"*{prefix}*"))
        if keys:
            store.delete(*keys)


def test_the_device_cookie_does_not_carry_the_address(app, platform, rate_limited):
    import base64

    browser = app.test_client()
    with app.app_context():
        assert right_login(browser, platform, "127.0.2.20", rate_limited).status_code == 302
    value = browser.get_cookie("dividend_device").value
    payload = value.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert platform["email"].lower().encode() not in decoded and platform["email"].encode() not in value.encode()
