"""payments: a "processing" status between the card's acceptance and the processor's confirmation

Once the card is accepted the buyer has paid, but the license turns active only
when the processor's signed `payment_intent.succeeded` arrives. The payment
shows "processing" meanwhile, so the license page says one true thing.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 04:10:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

BEFORE = "status IN ('requires_payment', 'succeeded', 'failed', 'canceled')"
AFTER = "status IN ('requires_payment', 'processing', 'succeeded', 'failed', 'canceled')"


def _replace_check(condition: str) -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_payments_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_payments_status'), condition)


def upgrade():
    _replace_check(AFTER)


def downgrade():
    op.execute("UPDATE payments SET status = 'requires_payment' WHERE status = 'processing'")
    _replace_check(BEFORE)
