"""Freezing versions: counts, each contributor's weight, and the canonical export's sha256
(over the texts as exported with placeholders: see `register_text_rewriter`)."""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import datetime

import orjson
from sqlalchemy import exists, func, literal, select, text
from sqlalchemy.orm import Session

from marketplace.catalog import hooks
from marketplace.catalog.models import Dataset, DatasetVersion, Record, VersionContributor
from marketplace.errors import Conflict

FETCH_SIZE = 10_000


def next_number(previous: DatasetVersion | None, *, removed_or_changed: bool, added: bool) -> str | None:
    """Croissant's semver: major when records were removed or changed, minor when only added."""
    if previous is None:
        return "1.0.0"
    major, minor, _patch = (int(part) for part in previous.number.split("."))
    if removed_or_changed:
        return f"{major + 1}.0.0"
    if added:
        return f"{major}.{minor + 1}.0"
    return None


def _changes_since(session: Session, dataset_id: int, revision: int) -> tuple[bool, bool]:
    in_previous = (Record.dataset_id == dataset_id) & (Record.added_rev <= revision)
    removed_or_changed = session.scalar(
        select(
            exists().where(
                in_previous,
                (Record.taken_down_rev > revision) | (Record.modified_rev > revision),
            )
        )
    )
    added = session.scalar(
        select(
            exists().where(
                Record.dataset_id == dataset_id,
                Record.added_rev > revision,
                Record.taken_down_at.is_(None),
            )
        )
    )
    return bool(removed_or_changed), bool(added)


#: Rewrites of the canonical export's texts. Each `factory(session, dataset)` returns a function
#: from one batch of rows, [(record id, stored text, scanned)], to their texts as the canonical
#: export carries them, in the same order. marketplace.pii registers its placeholder redaction
#: here when the app is created (SPEC.md: "A version's sha256 covers its export with
#: placeholders"), so the catalog imports nothing of it.
_text_rewriters: list[Callable[[Session, Dataset], Callable[[list[tuple[int, str, bool]]], list[str]]]] = []


def register_text_rewriter(factory) -> None:
    """Add a rewriter factory (once: create_app may run more than once in a process)."""
    if factory not in _text_rewriters:
        _text_rewriters.append(factory)


def canonical_lines(session: Session, dataset_id: int) -> Iterator[bytes]:
    """The canonical export of a dataset's live records, one JSON line each.

    Sorted by external id in byte order, keys sorted, timestamps as
    `YYYY-MM-DDTHH:MM:SS.ffffffZ`, texts as exports carry them with placeholders (the
    registered rewriters): the same records always give the same bytes.
    """
    for _created_at, line in _canonical_rows(session, session.get(Dataset, dataset_id)):
        yield line


def _canonical_rows(session: Session, dataset: Dataset) -> Iterator[tuple[object, bytes]]:
    """(created_at as the driver returns it, canonical line) for each live record, in order.

    Rows come FETCH_SIZE at a time from a server-side cursor; each batch's texts go through
    the rewriters at once (one query of findings per batch, not per record)."""
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    order = "r.external_id" if sqlite else 'r.external_id COLLATE "C"'
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    rewriters = [factory(session, dataset) for factory in _text_rewriters]
    result = connection.exec_driver_sql(
        "SELECT r.external_id, c.external_id, r.text, r.created_at, r.tokens, r.id, r.pii_version "
        "FROM records r JOIN contributors c ON c.id = r.contributor_id "
        f"WHERE r.dataset_id = {mark} AND r.taken_down_at IS NULL ORDER BY {order}",
        (dataset.id,),
        execution_options={"stream_results": True, "yield_per": FETCH_SIZE},
    )
    dumps, sort_keys = orjson.dumps, orjson.OPT_SORT_KEYS
    try:
        for rows in result.partitions(FETCH_SIZE):
            texts = [row[2] for row in rows]
            for rewrite in rewriters:
                texts = rewrite([(row[5], text, row[6] is not None) for row, text in zip(rows, texts)])
            for (external_id, contributor, _stored, created_at, tokens, _id, _scanned), body in zip(rows, texts):
                stamp = (
                    created_at.replace(" ", "T") + "Z" if sqlite
                    else created_at.isoformat(timespec="microseconds") + "Z"
                )
                yield created_at, dumps(
                    {"contributor": contributor, "created_at": stamp, "external_id": external_id,
                     "text": body, "tokens": tokens},
                    option=sort_keys,
                ) + b"\n"
    finally:
        result.close()


def _export_digest(session: Session, dataset: Dataset) -> tuple[str, datetime | None, datetime | None]:
    """The canonical export's sha256, and its earliest and latest `created_at`, in one pass.

    (Reading the time span in the same pass spares freezing a second walk over every live
    record: MIN/MAX by their own query fetched each row again, in contributor order.)
    """
    digest = hashlib.sha256()
    first = last = None
    for created_at, line in _canonical_rows(session, dataset):
        digest.update(line)
        if first is None or created_at < first:
            first = created_at
        if last is None or created_at > last:
            last = created_at
    # As the column's own type reads them (SQLite stores text; MIN/MAX compared it the same way).
    dialect = session.get_bind().dialect
    to_python = Record.__table__.c.created_at.type.dialect_impl(dialect).result_processor(dialect, None)
    if to_python is not None:
        first, last = (to_python(value) if value is not None else None for value in (first, last))
    return digest.hexdigest(), first, last


def freeze_version(session: Session, dataset: Dataset) -> DatasetVersion:
    """Freeze the dataset's live records as its next version.

    Writes each contributor's weight (records and tokens) once, with one
    INSERT … SELECT … GROUP BY, so allocation never re-aggregates records.
    :raise Conflict: no live records, or nothing changed since the last version; or a hook
        refused (pii: records not yet scanned by the current detector, a 409 with counts).
    """
    dataset = session.scalar(select(Dataset).where(Dataset.id == dataset.id).with_for_update(of=Dataset))
    hooks.freezing(session, dataset.id)
    previous = session.scalar(
        select(DatasetVersion).where(DatasetVersion.dataset_id == dataset.id)
        .order_by(DatasetVersion.id.desc()).limit(1)
    )
    if previous is None:
        number = "1.0.0"
    else:
        removed_or_changed, added = _changes_since(session, dataset.id, previous.revision)
        number = next_number(previous, removed_or_changed=removed_or_changed, added=added)
        if number is None:
            raise Conflict(f"Nothing changed since version {previous.number}; import records first.")
    version = DatasetVersion(
        dataset_id=dataset.id, number=number, record_count=0, token_count=0,
        contributor_count=0, sha256="", revision=dataset.revision,
    )
    session.add(version)
    session.flush()
    live = (Record.dataset_id == dataset.id) & Record.taken_down_at.is_(None)
    session.execute(
        VersionContributor.__table__.insert().from_select(
            ["version_id", "contributor_id", "record_count", "token_count"],
            select(
                literal(version.id),
                Record.contributor_id, func.count(), func.sum(Record.tokens),
            ).where(live).group_by(Record.contributor_id),
        )
    )
    records, tokens, contributors = session.execute(
        select(
            func.coalesce(func.sum(VersionContributor.record_count), 0),
            func.coalesce(func.sum(VersionContributor.token_count), 0),
            func.count(),
        ).where(VersionContributor.version_id == version.id)
    ).one()
    if contributors == 0:
        raise Conflict("The dataset has no live records to freeze; import records first.")
    if session.get_bind().dialect.name == "postgresql":
        # Every allocation of this version reads these weights, maybe within the minute, before
        # autovacuum has analyzed them. Planned without statistics, the eligibility join became a
        # nested loop over every contributor times every consent decision (23 s instead of 1 s at
        # 20,000 contributors, bench/allocation.py). ANALYZE samples a fixed number of rows (it
        # counts this transaction's own as live), so it costs the same at any size.
        session.execute(text("ANALYZE version_contributors"))
    version.record_count, version.token_count = int(records), int(tokens)
    version.contributor_count = contributors
    version.sha256, version.first_record_at, version.last_record_at = _export_digest(session, dataset)
    session.flush()
    hooks.frozen(session, dataset, version)
    session.expire(dataset, ["versions"])
    return version


