"""allocation_paid_counts: how many contributors an allocation pays, counted when it is posted

A license's split says how many contributors hold a share of it; counting that from a million
ledger lines on every view of the license took most of a second. Each allocation, and each
reversal that moves shares, now writes the count with its posting. Existing allocations are
counted here, once, from their lines. Append-only, like the ledger.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 20:20:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

#: Each existing allocation's count after its latest posting (the allocation or its last reversal).
BACKFILL = """
INSERT INTO allocation_paid_counts (transaction_id, allocation_id, contributors_paid)
WITH postings AS (
  SELECT id AS allocation_id, transaction_id FROM allocations
  UNION ALL
  SELECT allocation_id, id FROM ledger_transactions WHERE allocation_id IS NOT NULL
),
paid AS (
  SELECT allocation_id, COUNT(*) AS n FROM (
    SELECT p.allocation_id, e.owner_id
    FROM postings p JOIN ledger_entries e ON e.transaction_id = p.transaction_id
    WHERE e.account = 'contributor_payable'
    GROUP BY p.allocation_id, e.owner_id HAVING SUM(e.amount) <> 0
  ) shares GROUP BY allocation_id
)
SELECT MAX(p.transaction_id), p.allocation_id, COALESCE(MAX(paid.n), 0)
FROM postings p LEFT JOIN paid ON paid.allocation_id = p.allocation_id
GROUP BY p.allocation_id
"""


def upgrade():
    op.create_table(
        'allocation_paid_counts',
        sa.Column('transaction_id', BIG_ID, nullable=False),
        sa.Column('allocation_id', BIG_ID, nullable=False),
        sa.Column('contributors_paid', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['transaction_id'], ['ledger_transactions.id'],
                                name=op.f('fk_allocation_paid_counts_transaction_id_ledger_transactions')),
        sa.ForeignKeyConstraint(['allocation_id'], ['allocations.id'],
                                name=op.f('fk_allocation_paid_counts_allocation_id_allocations')),
        sa.PrimaryKeyConstraint('transaction_id', name=op.f('pk_allocation_paid_counts')),
    )
    op.create_index(op.f('ix_allocation_paid_counts_allocation_id'), 'allocation_paid_counts',
                    ['allocation_id'], unique=False)
    op.execute(BACKFILL)
    # Append-only, as the ledger it counts (migration 0002's guards).
    if op.get_bind().dialect.name == 'sqlite':
        for action in ('UPDATE', 'DELETE'):
            op.execute(
                f"CREATE TRIGGER allocation_paid_counts_no_{action.lower()} BEFORE {action} "
                "ON allocation_paid_counts "
                f"BEGIN SELECT RAISE(ABORT, 'allocation_paid_counts is append-only: {action} refused'); END")
    else:
        op.execute("CREATE TRIGGER allocation_paid_counts_append_only BEFORE UPDATE OR DELETE "
                   "ON allocation_paid_counts FOR EACH ROW EXECUTE FUNCTION dividend_refuse_change()")
        op.execute("CREATE TRIGGER allocation_paid_counts_no_truncate BEFORE TRUNCATE "
                   "ON allocation_paid_counts FOR EACH STATEMENT EXECUTE FUNCTION dividend_refuse_change()")


def downgrade():
    op.drop_index(op.f('ix_allocation_paid_counts_allocation_id'), table_name='allocation_paid_counts')
    op.drop_table('allocation_paid_counts')
