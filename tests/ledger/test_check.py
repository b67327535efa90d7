"""`flask ledger check`, its admin API twin, and the admin ledger page."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from marketplace import jobs
from marketplace.allocation import check as allocation_check
from marketplace.extensions import db
from marketplace.ledger import check, posting
from marketplace.ledger.models import MARKETPLACE, LedgerCheck
from tests import factories
from tests.ledger import helpers

PASSWORD = "long enough password"


def admin_key(runner, email: str | None = None, password: str | None = None) -> str:
    """A new admin's API key: `flask admin create` prints it alone on its last stdout line."""
    args = ["admin", "create", email or f"{helpers.unique('auditor')}@example.test"]
    result = runner.invoke(args=args + (["--password", password] if password else []))
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def healthy_ledger() -> None:
    made = helpers.dataset(helpers.platform(), [("ann", "US", 2), ("bo", "US", 1)])
    helpers.pay(made, 12_345)  # fee 617, net 11728, pool 5864 (3909 + 1955), platform 5864
    db.session.commit()


def half_written_transaction() -> int:
    """A transaction whose seal never came and whose entries don't balance: only reachable by
    bypassing post_transaction."""
    opened = posting.open_transaction(db.session, key=helpers.unique("half-written"), payload={}, kind="test")
    posting.add_entries(db.session, opened.transaction.id, "usd", [("marketplace_fees", MARKETPLACE, 3),
                                                                   ("payment_clearing", MARKETPLACE, -2)])
    return opened.transaction.id


def test_the_cli_check_passes_on_a_healthy_ledger_and_prints_a_summary(runner):
    healthy_ledger()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"1 transactions, 5 entries, checked in \d+\.\d\d s", lines[0])
    assert [line.split() for line in lines[1:-1]] == [
        ["contributor_payable", "58.64", "USD", "(2", "holders)"],
        ["marketplace_fees", "6.17", "USD", "(1", "holders)"],
        ["payment_clearing", "-123.45", "USD", "(1", "holders)"],
        ["platform_payable", "58.64", "USD", "(1", "holders)"],
    ]
    assert lines[-1] == "OK: every invariant holds."
    assert result.stderr == ""
    last = db.session.scalar(select(LedgerCheck).order_by(LedgerCheck.id.desc()).limit(1))
    assert (last.balanced, last.transactions, last.entries, last.violations) == (True, 1, 5, [])


def test_the_cli_check_exits_1_and_names_each_violation(runner):
    transaction_id = half_written_transaction()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 1
    assert "OK: every invariant holds." not in result.stdout
    assert "VIOLATIONS (3):" in result.stderr
    assert f"transaction sums to zero: {{'transaction_id': {transaction_id}, 'currency': 'usd', 'sum': 1}}" \
        in result.stderr
    assert "ledger sums to zero: {'currency': 'usd', 'sum': 1}" in result.stderr
    assert f"transaction sealed with all its entries: {{'transaction_id': {transaction_id}, 'sealed': None, " \
           "'entries': 2}" in result.stderr
    last = db.session.scalar(select(LedgerCheck).order_by(LedgerCheck.id.desc()).limit(1))
    assert last.balanced is False and len(last.violations) == 3


def test_the_cli_check_exits_1_whatever_the_invariant(runner, monkeypatch):
    healthy_ledger()

    def _fake_violation(session, result):
        result.add("allocation recomputes from its lines", {"allocation_id": 1, "lines_differing": 1})

    monkeypatch.setattr(allocation_check, "_lines_recompute", _fake_violation)
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 1
    assert "allocation recomputes from its lines" in result.stderr


def test_the_admin_api_runs_the_check_and_records_nothing(client, runner):
    """A GET never writes: it answers; the admin page's POST and the CLI record their runs."""
    healthy_ledger()
    key = admin_key(runner)
    response = client.get("/api/v1/admin/ledger/check", headers=factories.bearer(key))
    assert response.status_code == 200
    body = response.get_json()
    assert {k: v for k, v in body.items() if k != "seconds"} == {
        "balanced": True, "transactions": 1, "entries": 5, "violations": [], "mismatched_accounts": []}
    assert isinstance(body["seconds"], float)
    half_written_transaction()
    body = client.get("/api/v1/admin/ledger/check", headers=factories.bearer(key)).get_json()
    assert body["balanced"] is False
    assert body["mismatched_accounts"] == [{"currency": "usd", "sum": 1}]
    assert {v["invariant"] for v in body["violations"]} == {
        "transaction sums to zero", "ledger sums to zero", "transaction sealed with all its entries"}
    assert db.session.scalar(select(func.count()).select_from(LedgerCheck)) == 0


def test_only_admins_run_the_check_by_api(client, platform, buyer):
    response = client.get("/api/v1/admin/ledger/check")
    assert response.status_code == 401
    assert response.get_json()["code"] == 401
    assert client.get("/api/v1/admin/ledger/check", headers=factories.bearer("dvd_not_a_key")).status_code == 401
    for who in (platform, buyer):
        response = client.get("/api/v1/admin/ledger/check", headers=who["headers"])
        assert response.status_code == 403
        assert response.get_json()["code"] == 403
    assert db.session.scalar(select(func.count()).select_from(LedgerCheck)) == 0


def test_the_admin_page_shows_totals_and_runs_the_check(client, runner):
    email = f"{helpers.unique('page-admin')}@example.test"
    admin_key(runner, email, PASSWORD)
    healthy_ledger()
    factories.login(client, {"email": email, "password": PASSWORD})
    page = client.get("/admin/ledger")
    assert page.status_code == 200
    assert b"Never run" in page.data
    for text in (b"marketplace_fees", b"contributor_payable", b"platform_payable", b"payment_clearing"):
        assert text in page.data
    assert b"Sum in USD</th><th>0.00 USD" in page.data  # the whole ledger sums to zero, per currency
    ran = client.post("/admin/ledger/check", follow_redirects=True)
    assert ran.status_code == 200
    assert b"Every invariant holds." in ran.data and b"Balanced: every invariant holds." in ran.data
    half_written_transaction()
    ran = client.post("/admin/ledger/check", follow_redirects=True)
    assert b"3 violation(s) found." in ran.data and b"VIOLATIONS FOUND" in ran.data
    assert [(row.balanced, len(row.violations)) for row in db.session.scalars(
        select(LedgerCheck).order_by(LedgerCheck.id))] == [(True, 0), (False, 3)]


def test_the_admin_page_says_the_check_is_running_until_the_worker_ran_it(client, runner, monkeypatch):
    email = f"{helpers.unique('page-admin')}@example.test"
    admin_key(runner, email, PASSWORD)
    healthy_ledger()
    factories.login(client, {"email": email, "password": PASSWORD})
    monkeypatch.setattr(jobs.huey, "immediate", False)  # a worker's queue: the job waits in it
    ran = client.post("/admin/ledger/check", follow_redirects=True)
    assert b"The check is running" in ran.data and b"Never run" in ran.data
    assert db.session.scalar(select(func.count()).select_from(LedgerCheck)) == 0
    # End this read first: here every session shares one connection, so the job's transaction (a
    # savepoint) would otherwise nest inside it and go with the next request's rollback.
    db.session.rollback()
    while (task := jobs.huey.dequeue()) is not None:  # the worker's turn
        jobs.huey.execute(task)
    monkeypatch.undo()
    page = client.get("/admin/ledger")
    assert b"Balanced: every invariant holds." in page.data and b"The check is running" not in page.data
    assert db.session.scalar(select(func.count()).select_from(LedgerCheck)) == 1


def test_the_admin_page_is_for_admins_only(client, platform, buyer):
    assert client.get("/admin/ledger").status_code in (302, 401)  # to the log-in page
    for who in (platform, buyer):
        factories.login(client, who)
        assert client.get("/admin/ledger").status_code == 403
        assert client.post("/admin/ledger/check").status_code == 403
        client.post("/logout")
    assert db.session.scalar(select(func.count()).select_from(LedgerCheck)) == 0


# ---- the check reads the ledger as it is, not as the posting code meant it -----------------------

def violations() -> dict[str, list]:
    found: dict[str, list] = {}
    for violation in check.run_check(db.session).violations:
        found.setdefault(violation["invariant"], []).append(violation["detail"])
    return found


def test_the_check_finds_a_balanced_reversal_that_breaks_the_rule(app):
    made = helpers.dataset(helpers.platform(), [("ann", "US", 1), ("bob", "US", 1)])
    allocation = helpers.pay(made, 10_000)
    assert violations() == {}
    # Balanced and sealed, so the database accepts it; but fee and platform share no longer follow
    # the rule for the refunded total the reversal claims.
    posting.post_transaction(db.session, key=helpers.unique("bad-reversal"), kind="reversal", currency="usd",
                             allocation_id=allocation.id, refunded_total=0, reverses_id=allocation.transaction_id,
                             entries=[("marketplace_fees", MARKETPLACE, -1), ("platform_payable", made.platform_id, 1)])
    assert violations() == {"reversals follow the rule": [{
        "allocation_id": allocation.id, "refunded_total": 0,
        "expected": (500, 4750, 0), "posted": (499, 4751, 0)}]}


def test_the_check_finds_money_moved_between_contributors(app):
    made = helpers.dataset(helpers.platform(), [("ann", "US", 1), ("bob", "US", 1)])
    allocation = helpers.pay(made, 10_000)
    ann, bob = helpers.contributor(made, "ann").id, helpers.contributor(made, "bob").id
    posting.post_transaction(db.session, key=helpers.unique("bad-shift"), kind="reversal", currency="usd",
                             allocation_id=allocation.id, refunded_total=0, reverses_id=allocation.transaction_id,
                             entries=[("contributor_payable", ann, -7), ("contributor_payable", bob, 7)])
    assert violations() == {"reversals follow the rule": [{
        "allocation_id": allocation.id, "refunded_total": 0, "contributors_differing": 2}]}


def test_the_check_recomputes_allocation_lines_from_their_weights(app):
    """An allocation written by hand, balanced and sealed, whose lines are not the largest-remainder
    split of its pool by their own weights (and whose posted fee is not its stored fee)."""
    made = helpers.dataset(helpers.platform(), [("ann", "US", 1)])
    opened = posting.open_transaction(db.session, key=helpers.unique("payment:forged"), payload={},
                                      kind="allocation")
    posting.add_entries(db.session, opened.transaction.id, "usd", [("payment_clearing", MARKETPLACE, -100)])
    from marketplace.allocation.models import Allocation, AllocationPaidCount
    from marketplace.ledger.models import LedgerEntry

    db.session.add_all([
        LedgerEntry(transaction_id=opened.transaction.id, account="contributor_payable", owner_id=1,
                    currency="usd", amount=99, weight=1, tiebreak="ann"),
        LedgerEntry(transaction_id=opened.transaction.id, account="contributor_payable", owner_id=2,
                    currency="usd", amount=1, weight=1, tiebreak="bob"),
    ])
    db.session.flush()
    posting.seal(db.session, opened.transaction.id)
    forged = Allocation(
        payment_key=opened.transaction.idempotency_key, transaction_id=opened.transaction.id,
        dataset_id=made.id, platform_id=made.platform_id, version_ids=[made.latest_version.id],
        scopes=["ai-train"], currency="usd", gross=100, fee_bps=500, contributor_share_bps=10_000,
        fee=5, to_platform=0, pool=95, unallocated=0, weighting="records", total_weight=2, eligible_count=2,
        paid_at=helpers.PAID_AT)
    db.session.add(forged)
    db.session.flush()
    db.session.add(AllocationPaidCount(transaction_id=opened.transaction.id, allocation_id=forged.id,
                                       contributors_paid=2))
    db.session.flush()
    found = violations()
    assert found["allocation recomputes from its lines"] == [{"allocation_id": forged.id, "lines_differing": 2}]
    assert found["allocation adds up"] == [{"allocation_id": forged.id, "expected": (5, 0, 95, 0, -100),
                                            "posted": (0, 0, 100, 0, -100)}]
    assert set(found) == {"allocation recomputes from its lines", "allocation adds up"}


def test_the_check_recounts_the_contributors_paid(app):
    """The count a license's split reports is stored with each posting; a wrong or missing one is
    found from the lines (here: two contributors paid, after a refund of half)."""
    from marketplace.allocation.models import AllocationPaidCount
    from marketplace.allocation.reversal import reverse_to

    made = helpers.dataset(helpers.platform(), [("ann", "US", 1), ("bob", "US", 3)])
    allocation = helpers.pay(made, 10_000)
    reversal = reverse_to(db.session, allocation, 5_000, key=helpers.unique("refund"))
    stored = db.session.scalars(select(AllocationPaidCount.contributors_paid)
                                .where(AllocationPaidCount.allocation_id == allocation.id)
                                .order_by(AllocationPaidCount.transaction_id)).all()
    assert stored == [2, 2]
    assert violations() == {}
    full = reverse_to(db.session, allocation, 10_000, key=helpers.unique("refund"))
    assert db.session.get(AllocationPaidCount, full.id).contributors_paid == 0
    assert violations() == {}
    # A count that says otherwise than the lines: the later posting's row is the one read.
    forged = posting.post_transaction(db.session, key=helpers.unique("reversal:forged"), kind="reversal",
                                      currency="usd", entries=[], allocation_id=allocation.id,
                                      refunded_total=10_000)
    db.session.add(AllocationPaidCount(transaction_id=forged.transaction.id, allocation_id=allocation.id,
                                       contributors_paid=1))
    db.session.flush()
    assert reversal.id < full.id < forged.transaction.id
    assert violations() == {"contributors paid as counted": [
        {"allocation_id": allocation.id, "stored": 1, "counted": 0}]}
