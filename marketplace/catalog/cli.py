"""`flask records …`: bulk import from the command line, with a progress bar."""
from __future__ import annotations

import io
import os
from pathlib import Path

import click
from flask.cli import AppGroup
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from marketplace.catalog import importer, services, uploads
from marketplace.cli_support import in_one_transaction
from marketplace.extensions import db

records = AppGroup("records", help="Record import.")


class _CountingReader(io.RawIOBase):
    """Wraps a binary file and reports how many bytes were read, for the progress bar."""

    def __init__(self, raw, advance):
        self.raw, self.advance = raw, advance

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.raw.readinto(buffer)
        self.advance(n or 0)
        return n


@records.command("import")
@click.argument("slug")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(uploads.FORMATS), default="auto",
              show_default=True, help="auto: by the file's extension (.csv, else NDJSON).")
def import_command(slug: str, file: Path, fmt: str) -> None:
    """Import FILE (NDJSON or CSV) into dataset SLUG: all lines or, on any bad line, none."""
    size = os.path.getsize(file)

    def import_file() -> importer.ImportResult:
        # Read from the start on each try: a locked database makes the whole import run again.
        dataset = services.dataset_by_slug(db.session, slug)
        with Progress(
            TextColumn("[bold]importing"), BarColumn(), MofNCompleteColumn(), TextColumn("bytes"),
            TimeRemainingColumn(), transient=True, disable=not os.isatty(2),
        ) as progress, open(file, "rb", buffering=0) as raw:
            task = progress.add_task("import", total=size)
            stream = io.BufferedReader(_CountingReader(raw, lambda n: progress.advance(task, n)), 1 << 20)
            objects = uploads.file_objects(stream, file.name, fmt=fmt)
            return importer.import_records(db.session, dataset, objects)

    result = in_one_transaction(import_file)
    click.echo(f"{slug}: {result.created} created, {result.updated} updated.")
