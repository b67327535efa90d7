"""records: the (dataset, pii_version) index the personal-data scan and the freeze's count read

Built concurrently on PostgreSQL, so records stay writable while it builds. It is
the only step of this revision: CREATE INDEX CONCURRENTLY runs outside a
transaction, and a failure there must leave nothing else half applied (a retry
first drops an invalid index a failed build left behind).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 05:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

NAME, COLUMNS = 'ix_records_dataset_pii_version', ['dataset_id', 'pii_version']


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{NAME}"')
            op.create_index(NAME, 'records', COLUMNS, unique=False, postgresql_concurrently=True)
    else:
        op.create_index(NAME, 'records', COLUMNS, unique=False)


def downgrade():
    op.drop_index(NAME, table_name='records')
