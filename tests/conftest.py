"""Fixtures: one migrated database per test process, one rolled-back transaction per test.

The backend is SQLite unless DIVIDEND_TEST_BACKEND=postgresql, in which case
DIVIDEND_TEST_DATABASE_URL names the server; each xdist worker gets its own
schema there. `make test` runs the suite once per backend.
"""
from __future__ import annotations

import os

os.environ["DIVIDEND_JOBS"] = "immediate"  # before marketplace.jobs builds its queue

import pytest
import sqlalchemy as sa
from flask import request
from flask_migrate import upgrade

from marketplace import create_app
from marketplace.extensions import db, limiter
from marketplace.transparency.cache import report_cache
from tests import factories

BACKEND = os.environ.get("DIVIDEND_TEST_BACKEND", "sqlite")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def run_id() -> str:
    """Tells this test run's PostgreSQL schemas from a concurrent run's (xdist's run id, or the pid)."""
    return os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getpid()))[:10]


def _postgres_url() -> str:
    base = os.environ.get("DIVIDEND_TEST_DATABASE_URL")
    if not base:
        pytest.exit("DIVIDEND_TEST_BACKEND=postgresql needs DIVIDEND_TEST_DATABASE_URL", 2)
    from marketplace.config import normalize_database_url

    base = normalize_database_url(base)
    schema = f"test_{run_id()}_{_worker()}"
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if BACKEND != "postgresql":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / f'test-{_worker()}.sqlite3'}"
        return
    url = _postgres_url()
    yield url
    _drop_schema(f"test_{run_id()}_{_worker()}")


def _drop_schema(schema: str) -> None:
    """Drop this run's schema at the end; runs that crashed leave theirs, reused by nobody."""
    from marketplace.config import normalize_database_url

    engine = sa.create_engine(normalize_database_url(os.environ["DIVIDEND_TEST_DATABASE_URL"]),
                              isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-not-real",
    "WTF_CSRF_ENABLED": False,
    # On, but only requests with RATE_LIMITED_HEADER count (see `app`): tests log in often.
    "RATELIMIT_ENABLED": True,
    "JOBS": "immediate",
    "STRIPE_SECRET_KEY": "sk_test_fake",
    "STRIPE_WEBHOOK_SECRET": "whsec_test_fake",
}


RATE_LIMITED_HEADER = "X-Test-Rate-Limited"


@pytest.fixture(scope="session")
def app(database_url):
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        upgrade()

    @limiter.request_filter
    def _only_marked_requests_count() -> bool:
        return RATE_LIMITED_HEADER not in request.headers

    return app


@pytest.fixture
def rate_limited():
    """Headers whose requests count against the rate limits, from zero; the counts are reset after."""
    limiter.reset()
    try:
        yield {RATE_LIMITED_HEADER: "1"}
    finally:
        limiter.reset()


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes():
    """argon2id still, with the smallest cost: sign-ups and log-ins are in most tests.

    Production's cost (argon2-cffi's defaults) takes about 80 ms a hash; here it is under 1 ms.
    """
    from argon2 import PasswordHasher

    from marketplace.accounts import services

    production, services._hasher = services._hasher, PasswordHasher(
        time_cost=1, memory_cost=1024, parallelism=1)
    yield
    services._hasher = production


@pytest.fixture(autouse=True)
def _rolled_back(request, app):
    """Run the test inside a transaction that is rolled back at its end.

    The session joins the outer connection with SAVEPOINTs, so code under test
    may commit as usual (pallets-eco/flask-sqlalchemy#1171).
    """
    if any(request.node.get_closest_marker(name) for name in ("e2e", "live", "isolated_db")):
        yield
        return
    with app.app_context():
        engines = db.engines
        engine = engines[None]
        connection = engine.connect()
        transaction = connection.begin()
        engines[None] = connection
        db.session.remove()
        original = db.session.session_factory.kw.get("join_transaction_mode")
        db.session.session_factory.kw["join_transaction_mode"] = "create_savepoint"
    try:
        with app.app_context():
            yield
    finally:
        with app.app_context():
            # Kept reports name rows the rollback takes away; the next test may reuse their ids.
            report_cache().clear()
            db.session.remove()
            db.session.session_factory.kw["join_transaction_mode"] = original
            transaction.rollback()
            connection.close()
            engines[None] = engine


@pytest.fixture
def csrf(app):
    """CSRF protection on, as in production (TEST_CONFIG turns it off for the other tests)."""
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        yield
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def platform(client):
    """A platform organization: {id, slug, api_key, headers, email, password}."""
    return factories.signup(client, "platform", "Forum Co")


@pytest.fixture
def other_platform(client):
    return factories.signup(client, "platform", "Photo Co")


@pytest.fixture
def buyer(client):
    return factories.signup(client, "buyer", "Model Lab")


@pytest.fixture
def stripe_gateway(app, localstripe_url):
    """Point the app's payments at the test localstripe for this test."""
    from marketplace.payments.gateway import StripeGateway

    gateway = StripeGateway(app.config["STRIPE_SECRET_KEY"], localstripe_url)
    built = app.extensions["payment_gateway"]
    app.extensions["payment_gateway"] = gateway
    yield gateway
    app.extensions["payment_gateway"] = built


def card_token(gateway, number: str = "4242424242424242") -> str:
    token = gateway.client.v1.tokens.create(
        params={"card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    return token.id


class LiveServer:
    """The app served over HTTP by its own process, with its own migrated SQLite database."""

    #: The session's `live_server` while it runs: a test on a server of its own points
    #: localstripe's webhooks back at it when done (see tests/e2e/conftest.py's `fresh_server`).
    shared: LiveServer | None = None

    def __init__(self, url: str, env: dict, process):
        self.url, self.env, self.process = url, env, process

    def flask(self, *args: str):
        """Run a `flask --app app …` command against the live server's database."""
        import subprocess
        import sys
        from pathlib import Path

        flask = str(Path(sys.executable).with_name("flask"))
        return subprocess.run([flask, "--app", "app", *args], env=self.env, capture_output=True,
                              text=True, timeout=120, cwd=ROOT)


ROOT = str(__import__("pathlib").Path(__file__).resolve().parent.parent)


#: The path of an empty database migrated by this test process's first live server.
_MIGRATED: list = []


def start_live_server(folder, localstripe_url: str) -> LiveServer:
    """Migrate a new SQLite database in `folder`, serve the app on a free port, and point
    localstripe's signed webhooks at it. Stop it with `stop_live_server`."""
    import shutil
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "DIVIDEND_DATABASE_URL": f"sqlite:///{folder / 'live.sqlite3'}",
        "DIVIDEND_JOBS": "immediate",
        "DIVIDEND_SECRET_KEY": "live-test-secret-not-real",
        "DIVIDEND_STRIPE_API_BASE": localstripe_url,
        "DIVIDEND_STRIPE_SECRET_KEY": "sk_test_fake",
        "DIVIDEND_STRIPE_PUBLISHABLE_KEY": "pk_test_fake",
        "DIVIDEND_STRIPE_WEBHOOK_SECRET": "whsec_live_test_fake",
        "DIVIDEND_BASE_URL": f"http://127.0.0.1:{port}",
        "DIVIDEND_RATELIMIT_STORAGE_URI": "memory://",
    }
    flask = str(Path(sys.executable).with_name("flask"))
    database = folder / "live.sqlite3"
    if _MIGRATED:  # a copy of the first server's freshly migrated, still empty database
        shutil.copyfile(_MIGRATED[0], database)
    else:
        subprocess.run([flask, "--app", "app", "db", "upgrade"], env=env, check=True, capture_output=True,
                       cwd=ROOT)
        _MIGRATED.append(folder / "migrated.sqlite3")
        shutil.copyfile(database, _MIGRATED[0])
    log = open(folder / "server.log", "w")
    process = subprocess.Popen([flask, "--app", "app", "run", "--host", "127.0.0.1", "--port", str(port)],
                               env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail(f"the live server did not start: see {folder / 'server.log'}")
            time.sleep(0.1)
    live = LiveServer(f"http://127.0.0.1:{port}", env, process)
    live.log = log
    register_webhook(localstripe_url, f"{live.url}/webhooks/stripe", env["DIVIDEND_STRIPE_WEBHOOK_SECRET"])
    return live


def stop_live_server(live: LiveServer) -> None:
    live.process.terminate()
    live.process.wait(timeout=10)
    live.log.close()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, localstripe_url):
    """For browser and webhook tests: a real server process, real commits, CSRF on.

    A separate process rather than a thread: the app's extensions are
    module-level singletons, bound to the in-process test app.
    """
    live = start_live_server(tmp_path_factory.mktemp("live"), localstripe_url)
    LiveServer.shared = live
    yield live
    LiveServer.shared = None
    stop_live_server(live)


def register_webhook(localstripe_url: str, url: str, secret: str) -> None:
    """Tell localstripe where to send signed events (its /_config/webhooks API)."""
    import urllib.parse
    import urllib.request

    data = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
    request_ = urllib.request.Request(f"{localstripe_url}/_config/webhooks/dividend", data=data, method="POST")
    with urllib.request.urlopen(request_, timeout=10) as response:
        assert response.status == 200


@pytest.fixture(scope="session")
def localstripe_url(tmp_path_factory):
    """A localstripe server for this test process, on a free port (`--from-scratch`)."""
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    folder = tmp_path_factory.mktemp("localstripe")
    log = open(folder / "localstripe.log", "w")
    executable = Path(sys.executable).with_name("localstripe")
    process = subprocess.Popen([str(executable), "--port", str(port), "--from-scratch"],
                               stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail(f"localstripe did not start: see {folder / 'localstripe.log'}")
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)
    log.close()
