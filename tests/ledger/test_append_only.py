"""Invariant 6: history can't be changed. The database itself refuses UPDATE and DELETE on the ledger,
the allocations and the consent history, and refuses to seal a transaction that does not balance."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from marketplace.allocation.reversal import reverse_to
from marketplace.consent.services import record_consent
from marketplace.extensions import db
from marketplace.ledger import posting
from marketplace.ledger.check import run_check
from marketplace.ledger.models import MARKETPLACE
from tests.conftest import BACKEND
from tests.ledger import helpers

postgresql_only = pytest.mark.skipif(BACKEND != "postgresql", reason="PostgreSQL-only guard")


@pytest.fixture
def history(app):
    """A payment, a refund and a consent decision, committed (to the test's savepoint)."""
    made = helpers.dataset(helpers.platform(), [("ann", "US", 2), ("bob", "US", 1)])
    allocation = helpers.pay(made, 5_000)
    reverse_to(db.session, allocation, 1_000, key=helpers.unique("refund"))
    record_consent(db.session, helpers.contributor(made, "ann"), status="withdrawn", source="test")
    db.session.commit()
    return allocation


def refused(statement: str, params: dict | None = None):
    """Run `statement` in a savepoint and return the database's refusal."""
    with pytest.raises(IntegrityError) as caught, db.session.begin_nested():
        db.session.execute(text(statement), params or {})
    return str(caught.value.orig)


@pytest.mark.parametrize("statement", [
    "UPDATE ledger_entries SET amount = amount + 1",
    "UPDATE ledger_entries SET owner_id = owner_id WHERE id = (SELECT MIN(id) FROM ledger_entries)",
    "DELETE FROM ledger_entries",
    "DELETE FROM ledger_entries WHERE id = (SELECT MAX(id) FROM ledger_entries)",
    "UPDATE ledger_transactions SET kind = 'x'",
    "UPDATE ledger_transactions SET refunded_total = 0 WHERE refunded_total IS NOT NULL",
    "DELETE FROM ledger_transactions",
    "UPDATE ledger_seals SET entry_count = entry_count + 1",
    "DELETE FROM ledger_seals",
    "UPDATE allocations SET gross = gross",
    "UPDATE allocations SET eligible_count = 0",
    "DELETE FROM allocations",
    "UPDATE allocation_paid_counts SET contributors_paid = contributors_paid + 1",
    "DELETE FROM allocation_paid_counts",
    "UPDATE consents SET status = 'granted'",
    "DELETE FROM consents",
])
def test_the_database_refuses_to_change_history(history, statement):
    table = statement.split()[1] if statement.startswith("UPDATE") else statement.split()[2]
    before = helpers.balances(), helpers.entry_count()
    assert "append-only" in refused(statement)
    assert f"{table} is append-only" in refused(statement)
    assert (helpers.balances(), helpers.entry_count()) == before
    assert run_check(db.session).balanced


@postgresql_only
@pytest.mark.parametrize("tables", ["ledger_entries", "ledger_seals", "allocation_paid_counts", "consents",
                                    # (a table another references truncates only with it)
                                    "allocations, allocation_paid_counts",
                                    "ledger_transactions, ledger_entries, ledger_seals, allocations, "
                                    "allocation_paid_counts"])
def test_postgresql_refuses_truncate(app, tables):
    # (No history written first: PostgreSQL won't truncate a table with pending deferred-trigger
    # events anyway, which would hide whether our own trigger refused.)
    assert "is append-only: TRUNCATE refused" in refused(f"TRUNCATE {tables}")


def test_the_database_refuses_an_unbalanced_seal(app):
    opened = posting.open_transaction(db.session, key=helpers.unique("unbalanced"), payload={}, kind="test")
    posting.add_entries(db.session, opened.transaction.id, "usd", [("marketplace_fees", MARKETPLACE, 7),
                                                                   ("payment_clearing", MARKETPLACE, -6)])
    with pytest.raises(IntegrityError, match="does not balance"), db.session.begin_nested():
        posting.seal(db.session, opened.transaction.id)


def test_the_database_refuses_a_transaction_in_two_currencies_even_when_each_balances(app):
    """One currency per transaction (migration 0007): the seal reads the entries in one pass."""
    opened = posting.open_transaction(db.session, key=helpers.unique("two"), payload={}, kind="test")
    posting.add_entries(db.session, opened.transaction.id, "usd", [("marketplace_fees", MARKETPLACE, 7),
                                                                   ("payment_clearing", MARKETPLACE, -7)])
    posting.add_entries(db.session, opened.transaction.id, "eur", [("marketplace_fees", MARKETPLACE, 3),
                                                                   ("payment_clearing", MARKETPLACE, -3)])
    with pytest.raises(IntegrityError, match="does not balance"), db.session.begin_nested():
        posting.seal(db.session, opened.transaction.id)


def test_the_database_refuses_a_transaction_balanced_only_across_currencies(app):
    opened = posting.open_transaction(db.session, key=helpers.unique("fx"), payload={}, kind="test")
    posting.add_entries(db.session, opened.transaction.id, "usd", [("marketplace_fees", MARKETPLACE, 7)])
    posting.add_entries(db.session, opened.transaction.id, "eur", [("payment_clearing", MARKETPLACE, -7)])
    with pytest.raises(IntegrityError, match="does not balance"), db.session.begin_nested():
        posting.seal(db.session, opened.transaction.id)


def test_the_database_refuses_a_seal_that_miscounts_the_entries(app):
    opened = posting.open_transaction(db.session, key=helpers.unique("miscount"), payload={}, kind="test")
    posting.add_entries(db.session, opened.transaction.id, "usd", [("marketplace_fees", MARKETPLACE, 7),
                                                                   ("payment_clearing", MARKETPLACE, -7)])
    miscounted = text("INSERT INTO ledger_seals (transaction_id, entry_count) VALUES (:t, 1)")
    with pytest.raises(IntegrityError, match="does not balance"), db.session.begin_nested():
        db.session.execute(miscounted, {"t": opened.transaction.id})
    posting.seal(db.session, opened.transaction.id)  # the right count passes


def test_the_database_refuses_a_zero_entry(app):
    opened = posting.open_transaction(db.session, key=helpers.unique("zero"), payload={}, kind="test")
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(text(
            "INSERT INTO ledger_entries (transaction_id, account, owner_id, currency, amount) "
            "VALUES (:t, 'marketplace_fees', 0, 'usd', 0)"), {"t": opened.transaction.id})


@postgresql_only
def test_postgresql_refuses_to_commit_an_unsealed_transaction(app):
    opened = posting.open_transaction(db.session, key=helpers.unique("unsealed"), payload={}, kind="test")
    posting.add_entries(db.session, opened.transaction.id, "usd", [("marketplace_fees", MARKETPLACE, 7),
                                                                   ("payment_clearing", MARKETPLACE, -7)])
    # The deferred trigger runs at COMMIT; making it immediate runs it now, as COMMIT would.
    with pytest.raises(IntegrityError, match="was not sealed"), db.session.begin_nested():
        db.session.execute(text("SET CONSTRAINTS ledger_transactions_sealed IMMEDIATE"))
    db.session.execute(text("SET CONSTRAINTS ledger_transactions_sealed DEFERRED"))


def test_a_second_currency_slipped_into_a_sealed_transaction_fails_the_check(history):
    """Balanced in euros too, but a transaction holds one currency (migration 0007)."""
    for amount in (5, -5):
        db.session.execute(text(
            "INSERT INTO ledger_entries (transaction_id, account, owner_id, currency, amount) "
            "VALUES (:t, 'marketplace_fees', 0, 'eur', :amount)"), {"t": history.transaction_id, "amount": amount})
    result = run_check(db.session)
    assert {"invariant": "transaction in one currency",
            "detail": {"transaction_id": history.transaction_id, "currencies": ["eur", "usd"]}} in result.violations


def test_an_entry_slipped_into_a_sealed_transaction_fails_the_check(history):
    """Appending to a sealed transaction is not refused by a trigger (a per-row trigger would slow
    every allocation's bulk insert); the check catches it."""
    assert run_check(db.session).balanced
    db.session.execute(text(
        "INSERT INTO ledger_entries (transaction_id, account, owner_id, currency, amount) "
        "VALUES (:t, 'marketplace_fees', 0, 'usd', 1)"), {"t": history.transaction_id})
    result = run_check(db.session)
    assert {v["invariant"] for v in result.violations} >= {
        "transaction sums to zero", "transaction sealed with all its entries", "allocation adds up"}
