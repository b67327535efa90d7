"""Scanning records: batches read by id, scanned on every core, findings written in bulk.

The scan is a pure function of a record's text (detector.scan), so batches go to a
process pool while this process reads the next batch and writes the last one's
findings. Rows are read and written with raw SQL, a batch at a time: no ORM object
per record or finding. Services here flush (raw SQL on the session's connection) and
never commit: the request, job or command around them commits once.
"""
from __future__ import annotations

import atexit
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from multiprocessing import get_context
from typing import TYPE_CHECKING, NamedTuple

from marketplace.pii import detector

if TYPE_CHECKING:  # the pool's workers import this module: they need the detector alone
    from sqlalchemy.orm import Session

#: Records a batch: one round trip each way, one task for a worker.
BATCH_SIZE = 2_000
#: Parameters per statement when ids are listed (SQLite before 3.32 allows 999).
IDS_PER_STATEMENT = 900


def scan_texts(texts: list[str]) -> list[tuple[int, str, int, int]]:
    """(index in `texts`, type, start, end) of every finding: the workers' task."""
    scan = detector.scan
    return [(i, kind, start, end) for i, text in enumerate(texts) for kind, start, end in scan(text)]


def every_core() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def process_pool(processes: int) -> Executor:
    """A pool of `processes` fresh interpreters ("spawn": nothing of the parent's database
    connections, threads or locks is inherited; each worker imports the detector once)."""
    return ProcessPoolExecutor(max_workers=processes, mp_context=get_context("spawn"))


_pools: dict[int, Executor] = {}


def shared_pool(processes: int) -> Executor:
    """This process's pool of `processes` workers, started on first use and kept: a job worker
    scanning slice after slice pays the workers' start once. Shut down at exit."""
    pool = _pools.get(processes)
    if pool is None:
        pool = _pools[processes] = process_pool(processes)
        if len(_pools) == 1:
            atexit.register(_shutdown_pools)
    return pool


def _shutdown_pools() -> None:
    while _pools:
        _pools.popitem()[1].shutdown()


class _Sql:
    """The scan's statements, in the connection's placeholder style."""

    def __init__(self, session: Session, dataset_id: int | None):
        self.connection = session.connection()
        self.postgres = self.connection.dialect.name == "postgresql"
        mark = "?" if self.connection.dialect.paramstyle == "qmark" else "%s"
        self.mark = mark
        # The unary plus keeps the planner off the (dataset_id, pii_version) index: batches walk
        # the records in id order from where the last one stopped, so a scan reads each record
        # once. (Through that index, every batch would gather and sort all unscanned records.)
        where = "taken_down_at IS NULL AND (+pii_version IS NULL OR +pii_version <> {v})"
        if dataset_id is not None:
            where = f"+dataset_id = {int(dataset_id)} AND {where}"
        self.where = where
        # On PostgreSQL the batch's rows stay locked until the commit, so an import can't change
        # a text between its reading here and its marking as scanned (SQLite: one writer anyway).
        self.select = (f"SELECT id, dataset_id, text, pii_version FROM records WHERE {where} "
                       f"AND id > {mark} ORDER BY id LIMIT {mark}" + (" FOR UPDATE" if self.postgres else ""))
        self.insert = (f"INSERT INTO pii_findings (record_id, start_offset, end_offset, dataset_id, type, "
                       f"detector_version) VALUES ({mark}, {mark}, {mark}, {mark}, {mark}, {mark})")

        # SQLite: straight on the driver's cursor (no SQLAlchemy result objects), as the importer.
        self.cursor = None if self.postgres else self.connection.connection.dbapi_connection.cursor()

    def execute(self, statement: str, parameters=(), many: bool = False):
        if self.cursor is not None:
            return (self.cursor.executemany if many else self.cursor.execute)(statement, parameters)
        if many:
            return self.connection.exec_driver_sql(statement, parameters)
        return self.connection.exec_driver_sql(statement, tuple(parameters))

    def rows(self, statement: str, parameters) -> list:
        return self.execute(statement, parameters).fetchall()

    def mark_scanned(self, version: int, ids: list[int]) -> None:
        """Mark the batch's records scanned: on SQLite by their id range (every unscanned live
        record in it was read, in id order), on PostgreSQL by the list (one array parameter)."""
        if self.postgres:
            self.execute(f"UPDATE records SET pii_version = {version} WHERE id = ANY(%s)", (ids,))
            return
        self.execute(f"UPDATE records SET pii_version = {version} WHERE id BETWEEN ? AND ? AND "
                     + self.where.replace("{v}", str(version)), (ids[0], ids[-1]))

    def ids(self, statement: str, ids: list[int]) -> None:
        """Run `statement` (with `{ids}` for a list of placeholders) over `ids`, in chunks."""
        for start in range(0, len(ids), IDS_PER_STATEMENT):
            chunk = ids[start:start + IDS_PER_STATEMENT]
            self.execute(statement.replace("{ids}", ", ".join([self.mark] * len(chunk))), chunk)


def pending_count(session: Session, dataset_id: int) -> tuple[int, int]:
    """(live records scanned by the current detector, live records) of the dataset."""
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    version = int(detector.DETECTOR_VERSION)
    total, scanned = connection.exec_driver_sql(
        "SELECT COUNT(*), COUNT(CASE WHEN pii_version = " + str(version) + " THEN 1 END) "
        f"FROM records WHERE dataset_id = {mark} AND taken_down_at IS NULL", (dataset_id,)
    ).one()
    return int(scanned), int(total)


def forget_changed(session: Session, dataset_id: int, revision: int) -> None:
    """The records an import created or changed at `revision` are unscanned again: their old
    findings go and their marker is emptied (one statement each)."""
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    changed = (f"SELECT id FROM records WHERE dataset_id = {mark} AND modified_rev = {mark} "
               "AND pii_version IS NOT NULL")
    connection.exec_driver_sql(f"DELETE FROM pii_findings WHERE record_id IN ({changed})",
                               (dataset_id, revision))
    connection.exec_driver_sql(
        f"UPDATE records SET pii_version = NULL WHERE dataset_id = {mark} AND modified_rev = {mark} "
        "AND pii_version IS NOT NULL", (dataset_id, revision))


class Scanned(NamedTuple):
    #: Records scanned.
    records: int
    #: The highest record id read: a next slice starts after it.
    last_id: int


def scan_records(
    session: Session,
    dataset_id: int | None = None,
    *,
    processes: int = 1,
    limit: int | None = None,
    after: int = 0,
    on_progress: Callable[[int], None] | None = None,
    pool: Executor | None = None,
) -> Scanned:
    """Scan the live records with an id above `after` not yet scanned by the current detector
    (of one dataset, or all), replace their findings and mark them scanned.

    `processes` > 1 scans batches on a process pool (made here unless `pool` is given);
    `limit` stops after about that many records (a whole batch more at most), so a job can
    commit and go on after `last_id` in a new transaction. Raises nothing of its own;
    database errors pass.
    """
    sql = _Sql(session, dataset_id)
    version = int(detector.DETECTOR_VERSION)
    select = sql.select.replace("{v}", str(version))
    forget = "DELETE FROM pii_findings WHERE record_id IN ({ids})"
    state = {"after": after, "read": 0, "done": False}

    def next_batch():
        if state["done"] or (limit is not None and state["read"] >= limit):
            return None
        rows = sql.rows(select, (state["after"], BATCH_SIZE))
        if len(rows) < BATCH_SIZE:
            state["done"] = True
        if not rows:
            return None
        state["after"] = rows[-1][0]
        state["read"] += len(rows)
        return rows

    def write(rows, found) -> None:
        ids = [row[0] for row in rows]
        rescanned = [row[0] for row in rows if row[3] is not None]
        if rescanned:
            sql.ids(forget, rescanned)
        if found:
            sql.execute(sql.insert, [(rows[i][0], start, end, rows[i][1], kind, version)
                                     for i, kind, start, end in found], many=True)
        sql.mark_scanned(version, ids)
        if on_progress:
            on_progress(len(rows))

    scanned = 0
    if processes <= 1 and pool is None:
        while (rows := next_batch()) is not None:
            write(rows, scan_texts([row[2] for row in rows]))
            scanned += len(rows)
        return Scanned(scanned, state["after"])
    own_pool = pool is None
    pool = pool or process_pool(processes)
    try:
        in_flight: deque = deque()
        depth = 2 * max(processes, 1)
        while True:
            while len(in_flight) < depth and (rows := next_batch()) is not None:
                in_flight.append((rows, pool.submit(scan_texts, [row[2] for row in rows])))
            if not in_flight:
                break
            rows, future = in_flight.popleft()
            write(rows, future.result())
            scanned += len(rows)
    finally:
        if own_pool:
            pool.shutdown()
    return Scanned(scanned, state["after"])
