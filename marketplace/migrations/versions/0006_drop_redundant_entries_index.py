"""ledger indexes: drop the entries' index on transaction alone; index allocations by posting

ix_ledger_entries_transaction_owner (transaction_id, owner_id), added in 0004,
serves every look-up by transaction as well; keeping both cost each entry
written a second index update, the largest part of a million-line allocation
after the rows themselves.

A contributor's statement and ledger pages go from a posting to the allocation
it posted: allocations.transaction_id gets the index that look-up needs.

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
    op.create_index('ix_allocations_transaction', 'allocations', ['transaction_id'], unique=False)


def downgrade():
    op.drop_index('ix_allocations_transaction', table_name='allocations')
    op.create_index('ix_ledger_entries_transaction', 'ledger_entries', ['transaction_id'], unique=False)
