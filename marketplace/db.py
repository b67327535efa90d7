"""The declarative base every model shares, and the database-wide conventions."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Integer, MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, scoped_session

# Named constraints so Alembic migrations are stable across SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: A 64-bit key on PostgreSQL, SQLite's rowid alias (which is 64-bit anyway) there.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """Naive UTC now: every timestamp in the database is UTC without an offset."""
    return datetime.now(UTC).replace(tzinfo=None)


def one_of(column: str, values: type[StrEnum], name: str | None = None) -> CheckConstraint:
    """`CHECK (column IN (…))` generated from the enum that names the column's values, so the
    database and the code can't disagree (the constraint is named after the column)."""
    listed = ", ".join(f"'{member.value}'" for member in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name or column)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    #: When the row was created (UTC).
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, connection_record) -> None:
    """Make SQLite behave: foreign keys on, WAL, and transactions that SQLAlchemy controls.

    pysqlite opens transactions lazily on its own, which breaks SAVEPOINT (used by
    the test suite) and `BEGIN IMMEDIATE`; turning its autocommit handling off and
    emitting BEGIN ourselves (below) is SQLAlchemy's documented recipe.
    """
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA busy_timeout = 10000")
    # 64 MB of page cache (the default is 2 MB): bulk imports and allocations touch big indexes.
    cursor.execute("PRAGMA cache_size = -65536")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin_sqlite(conn) -> None:
    if conn.dialect.name == "sqlite":
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())


def begin_immediate(session) -> None:
    """Start the session's transaction as a writer: `BEGIN IMMEDIATE` on SQLite.

    A deferred SQLite transaction that reads and then writes can fail at once
    with "database is locked" when another writer got there first; taking the
    write lock up front makes writers queue (busy_timeout) instead. Call it
    before the transaction's first statement; a transaction already under way
    is left as it is. PostgreSQL needs nothing here (writers take row or
    advisory locks).
    """
    if isinstance(session, scoped_session):
        session = session()
    if session.in_transaction():
        return
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


@contextmanager
def small_page_cache(connection, kib: int = 8192) -> Iterator[None]:
    """Hold SQLite's page cache to `kib` KiB on `connection` while one long scan streams (an
    export reads every page once: the app's 64 MB cache would fill with pages never read again,
    and stay in the process's memory); the connection's own setting comes back after. Other
    databases keep their own buffer pool: nothing to do."""
    if connection.dialect.name != "sqlite":
        yield
        return
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size = -{int(kib)}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {int(before)}")
