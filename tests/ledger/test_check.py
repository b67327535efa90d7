"""`flask ledger check`, its admin API twin, and the admin ledger page."""
from __future__ import annotations

from marketplace.extensions import db
from marketplace.ledger import posting
from marketplace.ledger.models import MARKETPLACE
from tests import factories
from tests.ledger import helpers


def admin_key(runner, email="auditor@example.test", password=None) -> str:
    args = ["admin", "create", email] + (["--password", password] if password else [])
    return runner.invoke(args=args).stdout.strip().splitlines()[-1]


def test_the_check_passes_on_a_healthy_ledger(app, runner, client):
    made = helpers.dataset(helpers.platform(), [("ann", "US", 2), ("bo", "US", 1)])
    helpers.pay(made, 12_345)
    db.session.commit()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 0, result.output
    assert "OK: every invariant holds." in result.output
    assert "contributor_payable" in result.output and "58.64 USD" in result.output  # fee 617, net 11728, pool 5864
    body = client.get("/api/v1/admin/ledger/check", headers=factories.bearer(admin_key(runner))).get_json()
    assert body["balanced"] is True and body["mismatched_accounts"] == []
    assert body["transactions"] == 1 and body["entries"] == 5


def test_the_check_exits_1_on_a_violation(app, runner, client):
    # A transaction whose seal never came: only reachable by bypassing the posting code.
    opened = posting.open_transaction(db.session, key="half-written", payload={}, kind="test")
    posting.add_entries(db.session, opened.transaction.id, "usd", [("marketplace_fees", MARKETPLACE, 3),
                                                                   ("payment_clearing", MARKETPLACE, -2)])
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 1
    assert "transaction sums to zero" in result.output
    assert "transaction sealed with all its entries" in result.output
    body = client.get("/api/v1/admin/ledger/check", headers=factories.bearer(admin_key(runner))).get_json()
    assert body["balanced"] is False
    assert body["mismatched_accounts"] == [{"currency": "usd", "sum": 1}]


def test_only_admins_run_the_check(client, runner, platform):
    assert client.get("/api/v1/admin/ledger/check").status_code == 401
    assert client.get("/api/v1/admin/ledger/check", headers=platform["headers"]).status_code == 403


def test_the_admin_page_shows_totals_and_the_last_check(client, runner, platform):
    admin_key(runner, "page-admin@example.test", "long enough password")
    client.post("/login", data={"email": platform["email"], "password": platform["password"]})
    assert client.get("/admin/ledger").status_code == 403
    client.post("/logout")
    made = helpers.dataset(helpers.platform(), [("ann", "US", 1)])
    helpers.pay(made, 1_000)
    db.session.commit()
    client.post("/login", data={"email": "page-admin@example.test", "password": "long enough password"})
    page = client.get("/admin/ledger")
    assert page.status_code == 200 and b"Never run" in page.data and b"marketplace_fees" in page.data
    ran = client.post("/admin/ledger/check", follow_redirects=True)
    assert b"Every invariant holds." in ran.data and b"Balanced: every invariant holds." in ran.data
