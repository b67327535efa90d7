"""A long ledger check never starves the writers (SQLite's one write lock).

Each way of running the check (the command, the admin page's POST, the admin API's GET) is held
in the middle of its reads by an invariant that waits, while a job writes to the ledger in another
thread through `boundary.unit_of_work`. The writer must commit while the check still reads, then
the check must finish, and record its run where it records one. Real commits, so the test has its
own SQLite file instead of the suite's rolled-back transaction.
"""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from marketplace.boundary import unit_of_work
from marketplace.extensions import db
from marketplace.ledger import check, posting
from marketplace.ledger.models import MARKETPLACE, LedgerCheck, LedgerTransaction
from tests import factories
from tests.isolated import app_on
from tests.ledger import helpers

pytestmark = pytest.mark.isolated_db
#: Seconds any step may take; the writer's own wait for a lock (busy_timeout) is 10 s.
TIMEOUT = 30
PASSWORD = "long enough password"


def sqlite_app(path: Path):
    """The app on a migrated SQLite file of its own (tests/isolated.py gives the singletons back)."""
    return app_on(f"sqlite:///{path}")


@pytest.fixture
def market(tmp_path):
    with sqlite_app(tmp_path / "ledger.sqlite3") as market:
        with market.app_context():
            made = helpers.dataset(helpers.platform(), [("ann", "US", 2), ("bo", "US", 1)])
            helpers.pay(made, 12_345)
            db.session.commit()
        yield market


def admin(market) -> tuple[str, object]:
    """A new admin's API key, and a test client logged in as them."""
    email = f"{helpers.unique('admin')}@example.test"
    created = market.test_cli_runner().invoke(args=["admin", "create", email, "--password", PASSWORD])
    assert created.exit_code == 0, created.output
    client = market.test_client()
    factories.login(client, {"email": email, "password": PASSWORD})
    return created.stdout.strip().splitlines()[-1], client


def the_check(market, how: str):
    """The check, run the way `how` says: a callable returning what the test asserts on. (Its
    admin is made and logged in now: log-ins write, and the writer here is the job.)"""
    if how == "command":
        runner = market.test_cli_runner()
        return lambda: runner.invoke(args=["ledger", "check"])
    key, client = admin(market)
    if how == "page":
        return lambda: client.post("/admin/ledger/check", follow_redirects=True)
    return lambda: client.get("/api/v1/admin/ledger/check", headers=factories.bearer(key))


def a_job_posts(market, key: str) -> None:
    """A small write as jobs make them: one unit of work, taking SQLite's write lock first. One
    attempt only: were the lock held by the check, this fails after busy_timeout, not a minute."""
    with market.app_context():
        unit_of_work(lambda: posting.post_transaction(
            db.session, key=key, kind="fee", currency="usd",
            entries=[("payment_clearing", MARKETPLACE, -100), ("marketplace_fees", MARKETPLACE, 100)]),
            attempts=1)


@pytest.mark.parametrize("how", ["command", "page", "api"])
def test_a_job_writes_while_the_check_reads(market, monkeypatch, how):
    check_now = the_check(market, how)
    reading, release = threading.Event(), threading.Event()

    def waits_mid_check(session, result):
        reading.set()
        assert release.wait(TIMEOUT), "the test never let the check finish"

    monkeypatch.setitem(check._registered, "test: waits", waits_mid_check)
    outcome: dict = {}

    def in_thread(name: str, work) -> threading.Thread:
        def run():
            try:
                outcome[name] = work()
            except BaseException as error:  # noqa: BLE001 (reported by the main thread)
                outcome[name] = error
                reading.set()

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        return thread

    checker = in_thread("check", check_now)
    try:
        assert reading.wait(TIMEOUT), "the check never reached its invariants"
        assert "check" not in outcome, outcome.get("check")
        writer = in_thread("job", lambda: a_job_posts(market, "fee:while-checking"))
        writer.join(TIMEOUT)
        assert outcome.get("job", "still waiting") is None, outcome.get("job", "still waiting")
        assert "check" not in outcome  # the write went through while the check was still reading
    finally:
        release.set()
        checker.join(TIMEOUT)
    ran = outcome["check"]
    with market.app_context():
        recorded = db.session.scalars(select(LedgerCheck)).all()
        assert db.session.scalar(select(func.count()).select_from(LedgerTransaction)) == 2
    if how == "command":
        assert ran.exit_code == 0, ran.output
        # The check read one snapshot: the payment, not the fee posted while it read.
        assert ran.stdout.startswith("1 transactions, 5 entries")
    elif how == "page":
        assert ran.status_code == 200
        assert b"Every invariant holds." in ran.data
    else:
        assert ran.status_code == 200
        assert ran.get_json()["balanced"] is True and ran.get_json()["transactions"] == 1
    if how == "api":
        assert recorded == []  # a GET never writes
    else:
        assert [(row.balanced, row.transactions) for row in recorded] == [(True, 1)]
