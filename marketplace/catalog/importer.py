"""Bulk record import: NDJSON or CSV, streamed, validated line by line, atomic.

Each line is parsed once (orjson) and checked; valid rows go to the database in
batches through the driver's `executemany` (no ORM object per row), so memory
stays flat whatever the file's size. The first bad line stops the writing but
not the checking, so one run reports every bad line (up to MAX_ERRORS); the
caller then rolls the whole transaction back and nothing is written.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.catalog.models import Dataset, Record
from marketplace.catalog.services import next_revision
from marketplace.errors import Invalid
from marketplace.regions import ISO_3166_ALPHA2

BATCH_SIZE = 10_000
#: Contributor ids remembered between batches; bounded, so memory stays flat at any size.
CONTRIBUTOR_CACHE = 250_000
MAX_ERRORS = 100
MAX_EXTERNAL_ID = 200
CSV_COLUMNS = ("external_id", "contributor_external_id", "contributor_region", "text", "created_at")


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[dict] = field(default_factory=list)


class LineError(Exception):
    def __init__(self, field_name: str | None, message: str):
        self.field = field_name
        self.message = message


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


def parse_record(obj) -> tuple[str, str, str, str, datetime, int]:
    """Check one decoded line; return (external_id, contributor id, region, text, time, tokens).

    :raise LineError: naming the first bad field.
    """
    if type(obj) is not dict:
        raise LineError(None, "Each line must be a JSON object.")
    external_id = obj.get("external_id")
    if type(external_id) is not str or not external_id or len(external_id) > MAX_EXTERNAL_ID:
        raise LineError("external_id", "Give a string of 1 to 200 characters.")
    contributor = obj.get("contributor")
    if type(contributor) is not dict:
        raise LineError("contributor", "Give an object {external_id, region}.")
    contributor_id = contributor.get("external_id")
    if type(contributor_id) is not str or not contributor_id or len(contributor_id) > MAX_EXTERNAL_ID:
        raise LineError("contributor.external_id", "Give a string of 1 to 200 characters.")
    region = contributor.get("region")
    if type(region) is not str or region.upper() not in ISO_3166_ALPHA2:
        raise LineError("contributor.region", f"Unknown region code {region!r}: use ISO 3166-1 alpha-2.")
    text = obj.get("text")
    if type(text) is not str or not text.strip():
        raise LineError("text", "Missing text." if text in (None, "") else "Give non-empty text.")
    created_at = obj.get("created_at")
    if type(created_at) is not str:
        raise LineError("created_at", "Give an ISO 8601 timestamp, like 2024-05-01T12:00:00Z.")
    try:
        moment = _utc(created_at)
    except ValueError:
        raise LineError("created_at", f"Bad timestamp {created_at!r}: use ISO 8601.") from None
    tokens = obj.get("tokens")
    if tokens is None:
        tokens = len(text.split())
    elif type(tokens) is not int or tokens < 0 or tokens > 2**31 - 1:
        raise LineError("tokens", "Give a whole number of tokens, 0 or more.")
    return external_id, contributor_id, region.upper(), text, moment, tokens


def ndjson_objects(lines: Iterable[bytes]) -> Iterator[tuple[int, object]]:
    """(line number, decoded object) for each non-blank line; undecodable → LineError object."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            yield number, orjson.loads(raw)
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
            obj["tokens"] = int(tokens) if tokens.strip().isdigit() else tokens
        yield reader.line_num, obj


class _Writer:
    """Writes batches with raw `executemany`, in the dialect's own placeholder style."""

    def __init__(self, session: Session, dataset: Dataset, revision: int):
        self.connection = session.connection()
        self.dialect = self.connection.dialect.name
        self.dataset_id = dataset.id
        self.platform_id = dataset.platform_id
        self.revision = revision
        mark = "?" if self.connection.dialect.paramstyle == "qmark" else "%s"
        self.upsert_contributors = (
            "INSERT INTO contributors (platform_id, external_id, region, created_at) "
            f"VALUES ({mark}, {mark}, {mark}, {mark}) "
            "ON CONFLICT (platform_id, external_id) DO UPDATE SET region = excluded.region "
            "WHERE contributors.region <> excluded.region"
        )
        self.upsert_records = (
            "INSERT INTO records (dataset_id, external_id, contributor_id, text, created_at, tokens, "
            f"added_rev, modified_rev) VALUES ({', '.join([mark] * 8)}) "
            "ON CONFLICT (dataset_id, external_id) DO UPDATE SET "
            "contributor_id = excluded.contributor_id, text = excluded.text, "
            "created_at = excluded.created_at, tokens = excluded.tokens, "
            "modified_rev = CASE WHEN records.text = excluded.text "
            "AND records.created_at = excluded.created_at AND records.tokens = excluded.tokens "
            "AND records.contributor_id = excluded.contributor_id "
            "THEN records.modified_rev ELSE excluded.modified_rev END"
        )
        self.select_contributors = (
            "SELECT external_id, id FROM contributors WHERE platform_id = {mark} AND external_id IN ({marks})"
        ).replace("{mark}", mark)
        self.mark = mark
        self.known: dict[str, tuple[int, str]] = {}
        # SQLite keeps DATETIME as text; write it in SQLAlchemy's own format so reads agree.
        self.timestamp = (
            (lambda moment: moment.isoformat(" ", "microseconds"))
            if self.dialect == "sqlite" else (lambda moment: moment)
        )

    def _fresh(self, batch: list[tuple]) -> dict[str, str]:
        """Contributors of the batch not in the cache, or whose region changed."""
        known, fresh = self.known, {}
        for row in batch:
            hit = known.get(row[1])
            if hit is None or hit[1] != row[2]:
                fresh[row[1]] = row[2]
        return fresh

    def _contributor_ids(self, batch: list[tuple]) -> dict[str, tuple[int, str]]:
        """(id, region) of every contributor the batch names, upserting the new ones and moves."""
        fresh = self._fresh(batch)
        if len(self.known) + len(fresh) > CONTRIBUTOR_CACHE:
            self.known.clear()
            fresh = self._fresh(batch)
        if fresh:
            now = self.timestamp(datetime.now(UTC).replace(tzinfo=None))
            self.connection.exec_driver_sql(
                self.upsert_contributors, [(self.platform_id, ext, region, now) for ext, region in fresh.items()])
            names = list(fresh)
            for start in range(0, len(names), 5000):  # under SQLite's bound-variable limit
                chunk = names[start:start + 5000]
                rows = self.connection.exec_driver_sql(
                    self.select_contributors.replace("{marks}", ", ".join([self.mark] * len(chunk))),
                    (self.platform_id, *chunk)).all()
                for ext, contributor_id in rows:
                    self.known[ext] = (contributor_id, fresh[ext])
        return self.known

    def write(self, batch: list[tuple]) -> None:
        known = self._contributor_ids(batch)
        dataset_id, revision, timestamp = self.dataset_id, self.revision, self.timestamp
        self.connection.exec_driver_sql(
            self.upsert_records,
            [
                (dataset_id, ext, known[contributor][0], text, timestamp(moment), tokens, revision, revision)
                for ext, contributor, _region, text, moment, tokens in batch
            ],
        )


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
    errors: list[dict] = []
    truncated = False
    batch: list[tuple] = []
    lines = 0
    for number, obj in objects:
        try:
            if isinstance(obj, LineError):
                raise obj
            row = parse_record(obj)
        except LineError as error:
            if len(errors) < MAX_ERRORS:
                errors.append({"line": number, "field": error.field, "message": error.message})
            else:
                truncated = True
            batch.clear()
            continue
        lines += 1
        if errors:
            continue  # keep checking, stop writing: it will all be rolled back
        batch.append(row)
        if len(batch) >= BATCH_SIZE:
            writer.write(batch)
            batch.clear()
            if on_progress:
                on_progress(lines)
    if errors:
        raise ImportRejected(errors, truncated)
    if batch:
        writer.write(batch)
    if on_progress:
        on_progress(lines)
    if lines == 0:
        raise Invalid("The file holds no records.", {"body": ["No records found."]})
    created = session.scalar(count_live) - before
    session.expire(dataset)
    return ImportResult(created=created, updated=lines - created)
