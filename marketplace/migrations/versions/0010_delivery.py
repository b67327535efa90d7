"""delivery: the download log and the withdrawals' deletion receipts, both append-only

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 03:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

APPEND_ONLY = ("downloads", "withdrawal_acks")


def upgrade():
    op.create_table(
        'downloads',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('license_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('since_version_id', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=False),
        sa.Column('bytes', sa.BigInteger(), nullable=False),
        sa.Column('records', sa.BigInteger(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=True),
        sa.Column('complete', sa.Boolean(), nullable=False),
        sa.Column('gzip', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['license_id'], ['licenses.id'], name=op.f('fk_downloads_license_id_licenses'),
                                ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_downloads_user_id_users'),
                                ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['version_id'], ['dataset_versions.id'],
                                name=op.f('fk_downloads_version_id_dataset_versions'), ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['since_version_id'], ['dataset_versions.id'],
                                name=op.f('fk_downloads_since_version_id_dataset_versions'), ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_downloads')),
    )
    op.create_index('ix_downloads_license_at', 'downloads', ['license_id', 'at'], unique=False)
    op.create_table(
        'withdrawal_acks',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('license_id', sa.Integer(), nullable=False),
        sa.Column('through', sa.DateTime(), nullable=False),
        sa.Column('acknowledged_by', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['license_id'], ['licenses.id'], name=op.f('fk_withdrawal_acks_license_id_licenses'),
                                ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_withdrawal_acks')),
    )
    op.create_index('ix_withdrawal_acks_license_through', 'withdrawal_acks', ['license_id', 'through'], unique=False)
    _guards()


def _guards():
    """The database refuses to edit or remove a logged download or a receipt."""
    if op.get_bind().dialect.name == "sqlite":
        for table in APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {action} refused'); END"
                )
        return
    for table in APPEND_ONLY:  # dividend_refuse_change() is migration 0002's
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION dividend_refuse_change()")


def downgrade():
    op.drop_index('ix_withdrawal_acks_license_through', table_name='withdrawal_acks')
    op.drop_table('withdrawal_acks')
    op.drop_index('ix_downloads_license_at', table_name='downloads')
    op.drop_table('downloads')
