"""Bulk record import: NDJSON or CSV, streamed, validated line by line, atomic.

Each line is parsed once (orjson, marketplace/line_reader.py) and checked; valid rows go to
the database in batches of raw SQL (record_writer.py), so memory stays flat whatever the
file's size. The first bad line stops the writing but not the checking, so one run reports
every bad line (up to MAX_ERRORS); the caller then rolls the whole transaction back and
nothing is written.

Most of an import's time is per-line Python, so the plain line takes a short path inline in
`import_records`, and everything else goes to `parse_record` (record_lines.py), the one
place that decides what a bad line is and says why.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.catalog import hooks
from marketplace.catalog.models import Dataset, Record
from marketplace.catalog.record_lines import (
    MAX_EXTERNAL_ID,
    MAX_TEXT,
    MAX_TOKENS,
    REGION_SPELLINGS,
    csv_objects,
    parse_record,
)
from marketplace.catalog.record_writer import BATCH_SIZE, RecordWriter, sqlite_text
from marketplace.catalog.services import next_revision
from marketplace.errors import Invalid
from marketplace.line_reader import MAX_ERRORS, ImportRejected, LineError, ndjson_objects
from marketplace.text import NUL

# Callers read the line readers and errors from here, as before they had modules of their own.
__all__ = [
    "MAX_ERRORS",
    "ImportRejected",
    "ImportResult",
    "LineError",
    "csv_objects",
    "import_records",
    "ndjson_objects",
    "parse_record",
]


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[dict] = field(default_factory=list)


class _Unusual(Exception):
    """Not a plain line: let `parse_record` look at it."""


def _careful_row(obj, sqlite: bool) -> tuple[str, str, str, str, str | datetime, int]:
    """`parse_record`'s row, the time in the writer's form: for lines the plain path passes on.

    :raise LineError: the line is bad (or was undecodable: `obj` is then the LineError).
    """
    if isinstance(obj, LineError):
        raise obj
    external_id, contributor_id, region, text, moment, tokens = parse_record(obj)
    moment = sqlite_text(moment) if sqlite else moment
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
    writer = RecordWriter(session, dataset, revision)
    known = writer.known
    # Locals, for the loop below: it runs once a line.
    sqlite, regions, fromisoformat = writer.sqlite, REGION_SPELLINGS, datetime.fromisoformat
    nul = NUL
    longest, max_text, batch_values = MAX_EXTERNAL_ID, MAX_TEXT, BATCH_SIZE * 5
    errors: list[dict] = []
    truncated = False
    values: list = []  # the batch, flat (see RecordWriter)
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
                    or type(text) is not str or not text or text.isspace() or len(text) > max_text
                    # PostgreSQL can't store NUL: parse_record refuses it.
                    or nul in text or nul in external_id or nul in contributor_id
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
                # What sqlite_text(parse_record's time) gives, without the datetime round trip.
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
