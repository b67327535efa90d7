"""The migrations build the tables, columns and indexes the models describe."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from marketplace.db import Base
from marketplace.extensions import db

#: What the comparison looks at. (Foreign keys are left out: SQLite's ALTER TABLE ADD COLUMN
#: can't name one, so migration 0005's contributors.user_id reference is unnamed there.)
KINDS = {"add_table", "remove_table", "add_column", "remove_column", "add_index", "remove_index"}
#: What the migrations make that no model maps: alembic's own table, and the catalog's full-text
#: search (SQLite's FTS5 table and its shadow tables; PostgreSQL's expression index).
UNMAPPED = ("alembic_version", "dataset_search", "ix_datasets_search")


def _names(difference) -> set[str]:
    """The table's name, and the index's for an index."""
    kind, subject = difference[0], difference[1]
    if kind.endswith("index"):
        return {subject.name, subject.table.name}
    if kind.endswith("table"):
        return {subject.name}
    return {difference[2]}  # (kind, schema, table, column)


def test_the_migrated_schema_has_the_models_tables_columns_and_indexes():
    context = MigrationContext.configure(db.session.connection(), opts={"compare_type": False})
    differences = [d for d in compare_metadata(context, Base.metadata)
                   if not isinstance(d, list) and d[0] in KINDS and not any(name.startswith(UNMAPPED) for name in _names(d))]
    assert differences == []
