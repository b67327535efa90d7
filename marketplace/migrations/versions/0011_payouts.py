"""payouts: payout accounts, runs, payouts (one in transit per payable) and batch results

Self-contained: it creates only its own tables (the ledger's new `paid_out` account
kind needs no schema change: account kinds are not a database constraint).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 02:55:32.526460

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payout_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('threshold', sa.BigInteger(), nullable=False),
    sa.Column('below_threshold', sa.Integer(), nullable=False),
    sa.Column('no_account', sa.Integer(), nullable=False),
    sa.Column('negative', sa.Integer(), nullable=False),
    sa.Column('started_by', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_runs'))
    )
    op.create_table('payout_accounts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('stripe_account_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_payouts_enabled', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("provider <> 'batch' OR email IS NOT NULL", name=op.f('ck_payout_accounts_batch_email')),
    sa.CheckConstraint("provider IN ('batch', 'stripe')", name=op.f('ck_payout_accounts_provider')),
    sa.CheckConstraint("status IN ('onboarding', 'ready')", name=op.f('ck_payout_accounts_status')),
    sa.CheckConstraint('(user_id IS NULL) <> (organization_id IS NULL)', name=op.f('ck_payout_accounts_one_owner')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_payout_accounts_organization_id_organizations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_payout_accounts_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_accounts')),
    sa.UniqueConstraint('organization_id', name=op.f('uq_payout_accounts_organization_id')),
    sa.UniqueConstraint('stripe_account_id', name=op.f('uq_payout_accounts_stripe_account_id')),
    sa.UniqueConstraint('user_id', name=op.f('uq_payout_accounts_user_id'))
    )
    op.create_table('payouts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('payout_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('account', sa.String(length=24), nullable=False),
    sa.Column('owner_id', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('destination', sa.String(length=254), nullable=False),
    sa.Column('transfer_id', sa.String(length=255), nullable=True),
    sa.Column('failure_reason', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('settled_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("account IN ('contributor_payable', 'platform_payable')", name=op.f('ck_payouts_account')),
    sa.CheckConstraint("provider IN ('batch', 'stripe')", name=op.f('ck_payouts_provider')),
    sa.CheckConstraint("status IN ('in_transit', 'paid', 'failed')", name=op.f('ck_payouts_status')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payouts_amount_positive')),
    sa.ForeignKeyConstraint(['payout_account_id'], ['payout_accounts.id'], name=op.f('fk_payouts_payout_account_id_payout_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['run_id'], ['payout_runs.id'], name=op.f('fk_payouts_run_id_payout_runs'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payouts')),
    sa.UniqueConstraint('transfer_id', name=op.f('uq_payouts_transfer_id'))
    )
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.create_index('ix_payouts_payee', ['account', 'owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payouts_payout_account_id'), ['payout_account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payouts_run_id'), ['run_id'], unique=False)
        batch_op.create_index('uq_payouts_in_transit', ['account', 'owner_id', 'currency'], unique=True, sqlite_where=sa.text("status = 'in_transit'"), postgresql_where=sa.text("status = 'in_transit'"))

    op.create_table('payout_results',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('payout_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['payout_id'], ['payouts.id'], name=op.f('fk_payout_results_payout_id_payouts'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_results')),
    sa.UniqueConstraint('payout_id', name=op.f('uq_payout_results_payout_id'))
    )


def downgrade():
    op.drop_table('payout_results')
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.drop_index('uq_payouts_in_transit', sqlite_where=sa.text("status = 'in_transit'"), postgresql_where=sa.text("status = 'in_transit'"))
        batch_op.drop_index(batch_op.f('ix_payouts_run_id'))
        batch_op.drop_index(batch_op.f('ix_payouts_payout_account_id'))
        batch_op.drop_index('ix_payouts_payee')

    op.drop_table('payouts')
    op.drop_table('payout_accounts')
    op.drop_table('payout_runs')
