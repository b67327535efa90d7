"""ledger seal: one currency per transaction, checked in one pass

The seal's trigger summed a transaction's entries per currency with a GROUP BY,
which SQLite sorts: at a million-line allocation that sort was most of the
seal. Every posting path already writes one currency per transaction
(posting.add_entries and post_transaction take one), so the rule becomes
"one currency, summing to zero, with the sealed count of entries", read in a
single pass over the transaction's entries: COUNT, SUM, MIN and MAX.

A transaction balanced in each of two currencies was accepted before and is
refused now; none is ever posted.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:30:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# The refusal message is the same as before: callers and tests match "does not balance".
SQLITE_ONE_PASS = (
    "CREATE TRIGGER ledger_seals_balanced BEFORE INSERT ON ledger_seals "
    "WHEN (SELECT COUNT(*) <> NEW.entry_count OR COALESCE(SUM(amount), 0) <> 0 "
    "             OR MIN(currency) <> MAX(currency) "
    "      FROM ledger_entries WHERE transaction_id = NEW.transaction_id) "
    "BEGIN SELECT RAISE(ABORT, 'ledger transaction does not balance'); END"
)
SQLITE_PER_CURRENCY = (
    "CREATE TRIGGER ledger_seals_balanced BEFORE INSERT ON ledger_seals "
    "WHEN EXISTS (SELECT 1 FROM ledger_entries WHERE transaction_id = NEW.transaction_id "
    "             GROUP BY currency HAVING SUM(amount) <> 0) "
    "  OR (SELECT COUNT(*) FROM ledger_entries WHERE transaction_id = NEW.transaction_id) "
    "     <> NEW.entry_count "
    "BEGIN SELECT RAISE(ABORT, 'ledger transaction does not balance'); END"
)
POSTGRESQL_ONE_PASS = (
    "CREATE OR REPLACE FUNCTION dividend_check_seal() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "DECLARE entries bigint; total numeric; lowest text; highest text; "
    "BEGIN "
    "  SELECT COUNT(*), COALESCE(SUM(amount), 0), MIN(currency), MAX(currency) "
    "  INTO entries, total, lowest, highest "
    "  FROM ledger_entries WHERE transaction_id = NEW.transaction_id; "
    "  IF entries <> NEW.entry_count OR total <> 0 OR lowest <> highest THEN "
    "    RAISE EXCEPTION 'ledger transaction % does not balance', NEW.transaction_id "
    "    USING ERRCODE = 'check_violation'; "
    "  END IF; RETURN NEW; END $$"
)
POSTGRESQL_PER_CURRENCY = (
    "CREATE OR REPLACE FUNCTION dividend_check_seal() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    "  IF EXISTS (SELECT 1 FROM ledger_entries WHERE transaction_id = NEW.transaction_id "
    "             GROUP BY currency HAVING SUM(amount) <> 0) "
    "     OR (SELECT COUNT(*) FROM ledger_entries WHERE transaction_id = NEW.transaction_id) "
    "        <> NEW.entry_count THEN "
    "    RAISE EXCEPTION 'ledger transaction % does not balance', NEW.transaction_id "
    "    USING ERRCODE = 'check_violation'; "
    "  END IF; RETURN NEW; END $$"
)


def _replace(sqlite: str, postgresql: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER ledger_seals_balanced")
        op.execute(sqlite)
    else:
        op.execute(postgresql)  # the trigger calls the function by name


def upgrade():
    _replace(SQLITE_ONE_PASS, POSTGRESQL_ONE_PASS)


def downgrade():
    _replace(SQLITE_PER_CURRENCY, POSTGRESQL_PER_CURRENCY)
