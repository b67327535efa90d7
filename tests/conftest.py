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
from tests import factories

BACKEND = os.environ.get("DIVIDEND_TEST_BACKEND", "sqlite")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _postgres_url() -> str:
    base = os.environ.get("DIVIDEND_TEST_DATABASE_URL")
    if not base:
        pytest.exit("DIVIDEND_TEST_BACKEND=postgresql needs DIVIDEND_TEST_DATABASE_URL", 2)
    from marketplace.config import normalize_database_url

    base = normalize_database_url(base)
    schema = f"test_{_worker()}"
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if BACKEND == "postgresql":
        return _postgres_url()
    return f"sqlite:///{tmp_path_factory.mktemp('db') / f'test-{_worker()}.sqlite3'}"


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


@pytest.fixture(autouse=True)
def _rolled_back(request, app):
    """Run the test inside a transaction that is rolled back at its end.

    The session joins the outer connection with SAVEPOINTs, so code under test
    may commit as usual (pallets-eco/flask-sqlalchemy#1171).
    """
    if request.node.get_closest_marker("e2e"):
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
            db.session.remove()
            db.session.session_factory.kw["join_transaction_mode"] = original
            transaction.rollback()
            connection.close()
            engines[None] = engine


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
