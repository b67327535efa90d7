"""personal data: findings, each record's scanned-with marker, versions' scan reports, dataset settings

- `records.pii_version`: the detector version that scanned the record's current text
  (empty: not scanned; every existing record starts unscanned, so the first freeze after
  this migration waits for `flask pii scan` or the scan job), indexed with the dataset.
- `pii_findings`: (record, start, end, type, detector version); never the value.
- `version_pii_reports`: each version's report, computed when it is frozen.
- `datasets.pii_redaction`, `pii_keep`, `pii_allow`: how exports redact.

Adding nullable columns and new tables rewrites no existing row on either database; the
index on records reads every record once (on PostgreSQL it is built concurrently).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 03:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

TYPES = ('email', 'phone', 'ip_address', 'payment_card', 'iban', 'handle', 'profile_url', 'street_address')
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.add_column('records', sa.Column('pii_version', sa.Integer(), nullable=True))
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pii_redaction', sa.String(length=12), nullable=False,
                                      server_default='placeholder'))
        batch_op.add_column(sa.Column('pii_keep', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('pii_allow', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.create_check_constraint(batch_op.f('ck_datasets_pii_redaction'),
                                         "pii_redaction IN ('placeholder', 'pseudonym')")
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.alter_column('pii_redaction', server_default=None)
        batch_op.alter_column('pii_keep', server_default=None)
        batch_op.alter_column('pii_allow', server_default=None)
    op.create_table(
        'pii_findings',
        sa.Column('record_id', BIG_ID, nullable=False),
        sa.Column('start_offset', sa.Integer(), nullable=False),
        sa.Column('end_offset', sa.Integer(), nullable=False),
        sa.Column('dataset_id', sa.Integer(), nullable=False),
        sa.Column('type', sa.String(length=16), nullable=False),
        sa.Column('detector_version', sa.Integer(), nullable=False),
        sa.CheckConstraint('type IN (' + ', '.join(f"'{t}'" for t in TYPES) + ')',
                           name=op.f('ck_pii_findings_type')),
        sa.CheckConstraint('start_offset >= 0 AND end_offset > start_offset', name=op.f('ck_pii_findings_span')),
        sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_pii_findings_dataset_id_datasets'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['record_id'], ['records.id'], name=op.f('fk_pii_findings_record_id_records'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('record_id', 'start_offset', name=op.f('pk_pii_findings')),
    )
    op.create_index('ix_pii_findings_dataset_type', 'pii_findings', ['dataset_id', 'type'], unique=False)
    op.create_table(
        'version_pii_reports',
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('detector', sa.String(length=40), nullable=False),
        sa.Column('detector_version', sa.Integer(), nullable=False),
        sa.Column('records_scanned', sa.BigInteger(), nullable=False),
        sa.Column('records_with_findings', sa.BigInteger(), nullable=False),
        sa.Column('redaction', sa.String(length=12), nullable=False),
        sa.Column('findings', sa.JSON(), nullable=False),
        sa.Column('kept', sa.JSON(), nullable=False),
        sa.Column('allowed', sa.BigInteger(), nullable=False),
        sa.Column('keep_types', sa.JSON(), nullable=False),
        sa.Column('allow_values', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("redaction IN ('placeholder', 'pseudonym')", name=op.f('ck_version_pii_reports_redaction')),
        sa.ForeignKeyConstraint(['version_id'], ['dataset_versions.id'],
                                name=op.f('fk_version_pii_reports_version_id_dataset_versions'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('version_id', name=op.f('pk_version_pii_reports')),
    )
    # The records' (dataset, pii_version) index is built concurrently by 0014, in a revision of its own.


def downgrade():
    op.drop_table('version_pii_reports')
    op.drop_index('ix_pii_findings_dataset_type', table_name='pii_findings')
    op.drop_table('pii_findings')
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_datasets_pii_redaction'), type_='check')
        batch_op.drop_column('pii_allow')
        batch_op.drop_column('pii_keep')
        batch_op.drop_column('pii_redaction')
    op.drop_column('records', 'pii_version')
