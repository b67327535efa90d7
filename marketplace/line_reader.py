"""Uploads read a line at a time, and the one way every bulk import reports its bad lines.

An import (records, consent) decodes each line once and checks it. A bad line stops the
writing but not the checking, so one run reports every bad line (up to MAX_ERRORS, lines
counted from 1); the caller then rolls the whole transaction back and nothing is written.
"""
from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

import orjson

from marketplace.errors import Invalid

#: Bad lines listed in one rejection; past that, the count ends in "+".
MAX_ERRORS = 100
#: The longest line an import reads, in bytes (newline included): a record's text of a million
#: characters fits, even written with JSON escapes. A longer line is refused, named by its number,
#: without being held in memory.
MAX_LINE_BYTES = 8 * 1024 * 1024
#: What a stream is read by while the rest of a too-long line is skipped.
_SKIP_CHUNK = 1 << 20


class LineError(Exception):
    """One bad line: `field` names what is wrong in it (None: the line as a whole)."""

    def __init__(self, field_name: str | None, message: str):
        self.field = field_name
        self.message = message


class ImportRejected(Invalid):
    """Some lines were bad; nothing was written. `errors` = {"lines": [{line, field, message}]}."""

    def __init__(self, line_errors: list[dict], truncated: bool):
        first = line_errors[0]
        where = f"line {first['line']}" + (f", {first['field']}" if first["field"] else "")
        more = f" (only the first {MAX_ERRORS} are listed)" if truncated else ""
        count = f"{len(line_errors)}{'+' if truncated else ''}"
        super().__init__(
            f"{count} bad line(s){more}; nothing was imported. First: {where}: {first['message']}"
        )
        self.errors = {"lines": line_errors}


def _too_long() -> LineError:
    return LineError(None, f"The line is longer than {MAX_LINE_BYTES:,} bytes.")


def bounded_lines(source: Iterable[bytes]) -> Iterator[bytes | None]:
    """The lines of `source`, None for each longer than MAX_LINE_BYTES.

    A stream (anything with `readline`) is read at most MAX_LINE_BYTES + 1 bytes at a time, so a
    huge line is skipped rather than read whole; other iterables are checked line by line.
    """
    readline = getattr(source, "readline", None)
    if readline is None:
        for raw in source:
            yield None if len(raw) > MAX_LINE_BYTES else raw
        return
    limit = MAX_LINE_BYTES + 1
    while raw := readline(limit):
        if len(raw) == limit and raw[-1:] != b"\n":
            while (rest := readline(_SKIP_CHUNK)) and rest[-1:] != b"\n":
                pass
            yield None
        else:
            yield raw


def readable_rows(reader: Iterator) -> Iterator:
    """The rows of a `csv` reader (plain or dict), then None if a row can't be read (a field past
    the size limit, a NUL byte), after which the reading stops: csv raises in the middle of a
    file, and what follows that row can't be told apart."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield None
            return


def ndjson_objects(lines: Iterable[bytes]) -> Iterator[tuple[int, object]]:
    """(line number, decoded object) for each non-blank line; undecodable or longer than
    MAX_LINE_BYTES → a LineError object.

    The LineError is yielded, not raised, so the caller goes on checking the lines after it.
    """
    loads = orjson.loads
    for number, raw in enumerate(bounded_lines(lines), start=1):
        if raw is None:
            yield number, _too_long()
            continue
        if not raw or raw.isspace():
            continue
        try:
            yield number, loads(raw)
        except orjson.JSONDecodeError:
            yield number, LineError(None, "Not valid JSON.")
