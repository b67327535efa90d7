"""consents: an index on platform_id, which eligibility and the transparency report filter by

Every allocation's eligibility reads the platform's consent decisions, and every view of
a dataset's transparency report counts them (its cache's fingerprint): without an index
both read every platform's decisions. Built concurrently on PostgreSQL, the only step of
this revision, like 0014.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 06:10:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

NAME, COLUMNS = 'ix_consents_platform_id', ['platform_id']


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{NAME}"')
            op.create_index(NAME, 'consents', COLUMNS, unique=False, postgresql_concurrently=True)
    else:
        op.create_index(NAME, 'consents', COLUMNS, unique=False)


def downgrade():
    op.drop_index(NAME, table_name='consents')
