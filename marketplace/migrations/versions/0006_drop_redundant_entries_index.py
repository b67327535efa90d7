"""drop the ledger entries' index on transaction alone

ix_ledger_entries_transaction_owner (transaction_id, owner_id), added in 0004,
serves every look-up by transaction as well; keeping both cost each entry
written a second index update, the largest part of a million-line allocation
after the rows themselves.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 08:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    # Not in batch mode: an index needs no table copy, and ledger_entries keeps its triggers.
    op.drop_index('ix_ledger_entries_transaction', table_name='ledger_entries')


def downgrade():
    op.create_index('ix_ledger_entries_transaction', 'ledger_entries', ['transaction_id'], unique=False)
