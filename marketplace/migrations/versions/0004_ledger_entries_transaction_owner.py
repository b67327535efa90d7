"""ledger entries by (transaction, owner)

Finding one contributor's line in a million-line allocation (ledger check's
recomputation, a contributor's share of one payment) was a scan of the whole
transaction's entries per line on SQLite: quadratic. This index makes it one
look-up.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 12:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entries_transaction_owner', ['transaction_id', 'owner_id'], unique=False)


def downgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entries_transaction_owner')
