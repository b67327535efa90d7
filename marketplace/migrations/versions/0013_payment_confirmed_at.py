"""payments: when the buyer's card was accepted on the pay page

A license whose card was accepted before its 30-minute deadline waits for the
processor's confirmation (the webhook) instead of being canceled by the clock
and its payment refunded when the confirmation comes late.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 04:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmed_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_column('confirmed_at')
