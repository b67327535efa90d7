"""The records import's writer: batches of checked rows upserted into `records` with raw SQL.

No ORM object per row, so memory stays flat whatever the file's size; the contributors a
batch names are upserted first, and their ids remembered (within a bound) between batches.
"""
from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from sqlalchemy import exc
from sqlalchemy.orm import Session

from marketplace.catalog.models import Dataset

#: Rows a batch: small enough that its objects are still in the CPU's cache when written.
BATCH_SIZE = 2_000
#: Rows per multi-row INSERT on SQLite, five bound values each (fewer if the build allows fewer).
ROWS_PER_INSERT = 400
#: Contributor ids remembered between batches; bounded, so memory stays flat at any size.
CONTRIBUTOR_CACHE = 250_000


def sqlite_text(moment: datetime) -> str:
    """SQLAlchemy's own text for a DATETIME on SQLite, so reads and comparisons agree."""
    return moment.isoformat(" ", "microseconds")


class RecordWriter:
    """Writes batches with raw SQL, in the dialect's own placeholder style.

    A batch is one flat list, five values a row: external id, contributor id (or its
    external id, for `write` to resolve), text, time, tokens. The time is a naive UTC
    datetime, or on SQLite already its `sqlite_text`. SQLite gets multi-row plain
    INSERTs, much cheaper per row than `executemany`; a statement that meets an external
    id already there is undone whole by SQLite and redone as one upsert per row.
    PostgreSQL gets the upserts from the start (a failed statement there would abort the
    transaction).
    """

    def __init__(self, session: Session, dataset: Dataset, revision: int):
        self.connection = session.connection()
        self.sqlite = self.connection.dialect.name == "sqlite"
        self.platform_id = dataset.platform_id
        mark = "?" if self.connection.dialect.paramstyle == "qmark" else "%s"
        # Our own integers, written into the SQL so that a row binds five values, not eight.
        dataset_id, revision = int(dataset.id), int(revision)
        self.row = f"({dataset_id}, {mark}, {mark}, {mark}, {mark}, {mark}, {revision}, {revision})"
        self.insert_records = ("INSERT INTO records (dataset_id, external_id, contributor_id, text, "
                               "created_at, tokens, added_rev, modified_rev) VALUES ")
        self.upsert_records = (
            f"{self.insert_records}{self.row} "
            "ON CONFLICT (dataset_id, external_id) DO UPDATE SET "
            "contributor_id = excluded.contributor_id, text = excluded.text, "
            "created_at = excluded.created_at, tokens = excluded.tokens, "
            "modified_rev = CASE WHEN records.text = excluded.text "
            "AND records.created_at = excluded.created_at AND records.tokens = excluded.tokens "
            "AND records.contributor_id = excluded.contributor_id "
            "THEN records.modified_rev ELSE excluded.modified_rev END "
            # An erased record stays erased: importing its id again must not bring the text back.
            "WHERE records.erased_at IS NULL"
        )
        self.upsert_contributors = (
            "INSERT INTO contributors (platform_id, external_id, region, created_at) "
            f"VALUES ({mark}, {mark}, {mark}, {mark}) "
            "ON CONFLICT (platform_id, external_id) DO UPDATE SET region = excluded.region "
            "WHERE contributors.region <> excluded.region"
        )
        self.select_contributors = (
            "SELECT external_id, id FROM contributors WHERE platform_id = {mark} AND external_id IN ({marks})"
        ).replace("{mark}", mark)
        self.mark = mark
        #: external id → (id, region) of the contributors this import has met; bounded.
        self.known: dict[str, tuple[int, str]] = {}
        #: Whether a row met an external id already there (if not, every row was created).
        self.conflicts = False
        self.names_per_select = 5000
        if self.sqlite:
            driver = self.connection.connection.dbapi_connection
            self.cursor = driver.cursor()
            # SQLite before 3.32 binds at most 999 values a statement; later, 32,766.
            limit = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            self.names_per_select = min(self.names_per_select, limit - 1)
            self.rows_per_insert = min(ROWS_PER_INSERT, limit // 5)
            self.insert_many = self._insert_statement(self.rows_per_insert)

    def _insert_statement(self, rows: int) -> str:
        return self.insert_records + ", ".join([self.row] * rows)

    def _execute(self, statement: str, parameters, many: bool = False):
        """Raw SQL; on SQLite straight on the driver's cursor (no SQLAlchemy result objects),
        with errors still raised as SQLAlchemy's."""
        if not self.sqlite:
            return self.connection.exec_driver_sql(statement, parameters)
        try:
            return (self.cursor.executemany if many else self.cursor.execute)(statement, parameters)
        except sqlite3.Error as error:
            raise exc.DBAPIError.instance(
                statement, parameters, error, sqlite3.Error, ismulti=many) from error

    def _contributor_ids(self, named: dict[str, str]) -> dict[str, int]:
        """The id of each contributor in `named` (external id → region), upserting the new
        ones and those whose region changed."""
        known = self.known
        if len(known) + len(named) > CONTRIBUTOR_CACHE:
            known.clear()
        ids, fresh = {}, {}
        for ext, region in named.items():
            hit = known.get(ext)
            if hit is not None and hit[1] == region:
                ids[ext] = hit[0]
            else:
                fresh[ext] = region
        if fresh:
            now = datetime.now(UTC).replace(tzinfo=None)
            now = sqlite_text(now) if self.sqlite else now
            rows = [(self.platform_id, ext, region, now) for ext, region in fresh.items()]
            self._execute(self.upsert_contributors, rows, many=True)
            names, step = list(fresh), self.names_per_select
            for start in range(0, len(names), step):
                chunk = names[start:start + step]
                marks = ", ".join([self.mark] * len(chunk))
                found = self._execute(self.select_contributors.replace("{marks}", marks),
                                      (self.platform_id, *chunk))
                for ext, contributor_id in found:
                    known[ext] = (contributor_id, fresh[ext])
                    ids[ext] = contributor_id
        return ids

    def write(self, values: list, named: dict[str, str], pending: list[int]) -> None:
        """Write a batch: `values` as described above, where the contributors at the
        positions `pending` are still external ids, each in `named` with its latest region.

        :raise sqlalchemy.exc.DBAPIError: the database refused a statement.
        """
        ids = self._contributor_ids(named)
        for i in pending:
            values[i] = ids[values[i]]
        if not self.sqlite:
            self._execute(self.upsert_records, _rows(values))
            self.conflicts = True  # unknown: counted at the end
            return
        step = self.rows_per_insert * 5
        for start in range(0, len(values), step):
            chunk = values[start:start + step]
            statement = (self.insert_many if len(chunk) == step
                         else self._insert_statement(len(chunk) // 5))
            try:
                self.cursor.execute(statement, chunk)
            except sqlite3.IntegrityError:
                self.conflicts = True
                self._execute(self.upsert_records, _rows(chunk), many=True)
            except sqlite3.Error as error:
                raise exc.DBAPIError.instance(statement, None, error, sqlite3.Error) from error


def _rows(values: list) -> list[tuple]:
    return [tuple(values[i:i + 5]) for i in range(0, len(values), 5)]
