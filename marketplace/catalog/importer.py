"""Bulk record import: NDJSON or CSV, streamed, validated line by line, atomic.

Each line is parsed once (orjson) and checked; valid rows go to the database in
batches of raw SQL (no ORM object per row), so memory stays flat whatever the
file's size. The first bad line stops the writing but not the checking, so one
run reports every bad line (up to MAX_ERRORS); the caller then rolls the whole
transaction back and nothing is written.

Most of an import's time is per-line Python, so the plain line takes a short
path inline in `import_records`, and everything else goes to `parse_record`,
the one place that decides what a bad line is and says why.
"""
from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from sqlalchemy import exc, func, select
from sqlalchemy.orm import Session

from marketplace.catalog import hooks
from marketplace.catalog.models import Dataset, Record
from marketplace.catalog.services import next_revision
from marketplace.errors import Invalid
from marketplace.regions import ISO_3166_ALPHA2
from marketplace.text import NO_NUL

#: Rows a batch: small enough that its objects are still in the CPU's cache when written.
BATCH_SIZE = 2_000
#: Rows per multi-row INSERT on SQLite, five bound values each (fewer if the build allows fewer).
ROWS_PER_INSERT = 400
#: Contributor ids remembered between batches; bounded, so memory stays flat at any size.
CONTRIBUTOR_CACHE = 250_000
MAX_ERRORS = 100
MAX_EXTERNAL_ID = 200
MAX_TOKENS = 2**31 - 1
CSV_COLUMNS = ("external_id", "contributor_external_id", "contributor_region", "text", "created_at")

#: Each spelling of a region code that needs no more than `.upper()`: "US", "us", "Us", "uS".
_REGIONS = {
    spelling: code
    for code in ISO_3166_ALPHA2
    for spelling in (code, code.lower(), code[0] + code[1].lower(), code[0].lower() + code[1])
}


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[dict] = field(default_factory=list)


class LineError(Exception):
    def __init__(self, field_name: str | None, message: str):
        self.field = field_name
        self.message = message


class _Unusual(Exception):
    """Not a plain line: let `parse_record` look at it."""


class ImportRejected(Invalid):
    """Some lines were bad; nothing was written. `errors` = {"lines": [...]}."""

    def __init__(self, line_errors: list[dict], truncated: bool):
        first = line_errors[0]
        where = f"line {first['line']}" + (f", {first['field']}" if first["field"] else "")
        more = " (only the first 100 are listed)" if truncated else ""
        count = f"{len(line_errors)}{'+' if truncated else ''}"
        super().__init__(
            f"{count} bad line(s){more}; nothing was imported. First: {where}: {first['message']}"
        )
        self.errors = {"lines": line_errors}


def _utc(created_at: str) -> datetime:
    """Naive UTC from ISO 8601; the common "…Z" form skips the time-zone arithmetic."""
    if created_at[-1:] == "Z":
        moment = datetime.fromisoformat(created_at[:-1])
        if moment.tzinfo is None:
            return moment
    else:
        moment = datetime.fromisoformat(created_at)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _sqlite_text(moment: datetime) -> str:
    """SQLAlchemy's own text for a DATETIME on SQLite, so reads and comparisons agree."""
    return moment.isoformat(" ", "microseconds")


def parse_record(obj) -> tuple[str, str, str, str, datetime, int]:
    """Check one decoded line; return (external_id, contributor id, region, text, time, tokens).

    :raise LineError: naming the first bad field.
    """
    if type(obj) is not dict:
        raise LineError(None, "Each line must be a JSON object.")
    external_id = obj.get("external_id")
    if type(external_id) is not str or not external_id or len(external_id) > MAX_EXTERNAL_ID:
        raise LineError("external_id", "Give a string of 1 to 200 characters.")
    if "\x00" in external_id:
        raise LineError("external_id", NO_NUL)
    contributor = obj.get("contributor")
    if type(contributor) is not dict:
        raise LineError("contributor", "Give an object {external_id, region}.")
    contributor_id = contributor.get("external_id")
    if type(contributor_id) is not str or not contributor_id or len(contributor_id) > MAX_EXTERNAL_ID:
        raise LineError("contributor.external_id", "Give a string of 1 to 200 characters.")
    if "\x00" in contributor_id:
        raise LineError("contributor.external_id", NO_NUL)
    region = contributor.get("region")
    if type(region) is not str or region.upper() not in ISO_3166_ALPHA2:
        raise LineError("contributor.region", f"Unknown region code {region!r}: use ISO 3166-1 alpha-2.")
    text = obj.get("text")
    if type(text) is not str or not text.strip():
        raise LineError("text", "Missing text." if text in (None, "") else "Give non-empty text.")
    if "\x00" in text:
        raise LineError("text", NO_NUL)
    created_at = obj.get("created_at")
    if type(created_at) is not str:
        raise LineError("created_at", "Give an ISO 8601 timestamp, like 2024-05-01T12:00:00Z.")
    try:
        moment = _utc(created_at)
    except (ValueError, OverflowError):  # OverflowError: the offset moves it out of years 1-9999
        raise LineError("created_at", f"Bad timestamp {created_at!r}: use ISO 8601.") from None
    tokens = obj.get("tokens")
    if tokens is None:
        tokens = len(text.split())
    elif type(tokens) is not int or tokens < 0 or tokens > MAX_TOKENS:
        raise LineError("tokens", "Give a whole number of tokens, 0 or more.")
    return external_id, contributor_id, region.upper(), text, moment, tokens


def ndjson_objects(lines: Iterable[bytes]) -> Iterator[tuple[int, object]]:
    """(line number, decoded object) for each non-blank line; undecodable → LineError object."""
    loads = orjson.loads
    for number, raw in enumerate(lines, start=1):
        if not raw or raw.isspace():
            continue
        try:
            yield number, loads(raw)
        except orjson.JSONDecodeError:
            yield number, LineError(None, "Not valid JSON.")


def csv_objects(stream: io.TextIOBase) -> Iterator[tuple[int, object]]:
    """CSV with a header: external_id, contributor_external_id, contributor_region, text,
    created_at[, tokens]. Rows come out in the NDJSON shape so one checker serves both."""
    reader = csv.DictReader(stream)
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        yield 1, LineError(missing[0], f"The CSV header lacks the column {missing[0]!r}.")
        return
    for row in reader:
        tokens = row.get("tokens")
        obj = {
            "external_id": row["external_id"],
            "contributor": {"external_id": row["contributor_external_id"], "region": row["contributor_region"]},
            "text": row["text"],
            "created_at": row["created_at"],
        }
        if tokens not in (None, ""):
            obj["tokens"] = int(tokens) if tokens.strip().isdecimal() else tokens
        yield reader.line_num, obj


class _Writer:
    """Writes batches with raw SQL, in the dialect's own placeholder style.

    A batch is one flat list, five values a row: external id, contributor id (or its
    external id, for `write` to resolve), text, time, tokens. SQLite gets multi-row plain
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
            now = _sqlite_text(now) if self.sqlite else now
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
        positions `pending` are still external ids, each in `named` with its latest region."""
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


def _careful_row(obj, sqlite: bool) -> tuple[str, str, str, str, str | datetime, int]:
    """`parse_record`'s row, the time in the writer's form: for lines the plain path passes on.

    :raise LineError: the line is bad (or was undecodable: `obj` is then the LineError).
    """
    if isinstance(obj, LineError):
        raise obj
    external_id, contributor_id, region, text, moment, tokens = parse_record(obj)
    moment = _sqlite_text(moment) if sqlite else moment
    return external_id, contributor_id, region, text, moment, tokens


def import_records(
    session: Session,
    dataset: Dataset,
    objects: Iterable[tuple[int, object]],
    *,
    on_progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Upsert the records of `objects` (from `ndjson_objects` or `csv_objects`) into `dataset`.

    Counts a line whose external id exists (or appeared earlier) as updated.
    :raise ImportRejected: any bad line; the caller must roll back (nothing is kept).
    :raise Invalid: no records at all.
    """
    revision = next_revision(session, dataset.id)
    count_live = select(func.count()).where(Record.dataset_id == dataset.id)
    before = session.scalar(count_live)
    writer = _Writer(session, dataset, revision)
    known = writer.known
    # Locals, for the loop below: it runs once a line.
    sqlite, regions, fromisoformat = writer.sqlite, _REGIONS, datetime.fromisoformat
    longest, batch_values = MAX_EXTERNAL_ID, BATCH_SIZE * 5
    errors: list[dict] = []
    truncated = False
    values: list = []  # the batch, flat (see _Writer)
    named: dict[str, str] = {}  # contributors for the writer to resolve → their latest region
    pending: list[int] = []  # where in `values` those are
    lines = 0
    for number, obj in objects:
        # The plain line, checked inline (a function call per line would cost several per
        # cent): it takes only lines parse_record accepts, to the same values. Anything else,
        # good or bad, raises here and goes to parse_record, which decides and says why.
        try:
            contributor = obj["contributor"]
            external_id, text, created_at = obj["external_id"], obj["text"], obj["created_at"]
            contributor_id, region = contributor["external_id"], contributor["region"]
            tokens = obj.get("tokens")
            if (type(obj) is not dict or type(contributor) is not dict
                    or type(external_id) is not str or not 0 < len(external_id) <= longest
                    or type(contributor_id) is not str or not 0 < len(contributor_id) <= longest
                    or type(region) is not str or region not in regions
                    or type(text) is not str or not text or text.isspace()
                    # PostgreSQL can't store NUL: parse_record refuses it.
                    or "\x00" in text or "\x00" in external_id or "\x00" in contributor_id
                    # "2024-05-01T12:00:00Z" exactly; fromisoformat checks the digits and ranges.
                    or type(created_at) is not str or len(created_at) != 20
                    or created_at[4::3] != "--T::Z"):
                raise _Unusual
            if tokens is None:
                tokens = len(text.split())
            elif type(tokens) is not int or not 0 <= tokens <= MAX_TOKENS:
                raise _Unusual
            if sqlite:
                fromisoformat(created_at)
                # What _sqlite_text(_utc(created_at)) gives, without the datetime round trip.
                moment = created_at.replace("T", " ").replace("Z", ".000000")
            else:
                moment = fromisoformat(created_at[:-1])
            region = regions[region]
        except (_Unusual, KeyError, TypeError, ValueError):
            try:
                row = _careful_row(obj, sqlite)
            except LineError as error:
                if len(errors) < MAX_ERRORS:
                    errors.append({"line": number, "field": error.field, "message": error.message})
                else:
                    truncated = True
                values.clear()
                continue
            external_id, contributor_id, region, text, moment, tokens = row
        lines += 1
        if errors:
            continue  # keep checking, stop writing: it will all be rolled back
        hit = known.get(contributor_id)
        if hit is None or hit[1] != region or contributor_id in named:
            # New, moved, or already waiting in this batch: the writer resolves it.
            named[contributor_id] = region
            pending.append(len(values) + 1)
            values += (external_id, contributor_id, text, moment, tokens)
        else:
            values += (external_id, hit[0], text, moment, tokens)
        if len(values) >= batch_values:
            writer.write(values, named, pending)
            values.clear()
            named.clear()
            pending.clear()
            if on_progress:
                on_progress(lines)
    if errors:
        raise ImportRejected(errors, truncated)
    if values:
        writer.write(values, named, pending)
    if on_progress:
        on_progress(lines)
    if lines == 0:
        raise Invalid("The file holds no records.", {"body": ["No records found."]})
    # Without a single conflict, every line made a record; else count them.
    created = session.scalar(count_live) - before if writer.conflicts else lines
    hooks.records_imported(session, dataset.id, revision)
    session.expire(dataset)
    return ImportResult(created=created, updated=lines - created)
