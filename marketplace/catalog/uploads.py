"""Records files as the importer reads them: an upload or a local file, CSV or NDJSON.

The page's upload and `flask records import` read files the same way; the JSON API takes
NDJSON bodies only (`importer.ndjson_objects`).
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

from marketplace.catalog import importer
from marketplace.errors import Invalid

FORMATS = ("auto", "ndjson", "csv")


class NotUtf8(Invalid):
    """A CSV file whose bytes are not UTF-8 text (NDJSON lines that aren't are bad lines)."""

    def __init__(self, name: str):
        super().__init__(f"{name} is not UTF-8 text; nothing was imported. Save it as UTF-8 and try again.")


def is_csv(filename: str, fmt: str = "auto") -> bool:
    """CSV when `fmt` says so or, for "auto", when the name ends in .csv (any case); else NDJSON."""
    return fmt == "csv" or (fmt == "auto" and filename.lower().endswith(".csv"))


def file_objects(stream: BinaryIO, filename: str, *, fmt: str = "auto",
                 name: str | None = None) -> Iterator[tuple[int, object]]:
    """The (line number, object) pairs of a records file, for `importer.import_records`.

    :raise NotUtf8: (while iterated) a CSV file that is not UTF-8; `name` (else `filename`)
        names the file in the message.
    """
    if not is_csv(filename, fmt):
        yield from importer.ndjson_objects(stream)
        return
    try:
        yield from importer.csv_objects(io.TextIOWrapper(stream, encoding="utf-8-sig", newline=""))
    except UnicodeDecodeError as error:
        raise NotUtf8(name or filename) from error
