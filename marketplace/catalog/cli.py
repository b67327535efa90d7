"""`flask records …`: bulk import from the command line, with a progress bar."""
from __future__ import annotations

import io
import os
from pathlib import Path

import click
from flask.cli import AppGroup
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import select

from marketplace.boundary import commit
from marketplace.catalog import importer
from marketplace.catalog.models import Dataset
from marketplace.errors import DomainError
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
@click.option("--format", "fmt", type=click.Choice(["auto", "ndjson", "csv"]), default="auto",
              show_default=True, help="auto: by the file's extension (.csv, else NDJSON).")
def import_command(slug: str, file: Path, fmt: str) -> None:
    """Import FILE (NDJSON or CSV) into dataset SLUG: all lines or, on any bad line, none."""
    dataset = db.session.scalar(select(Dataset).where(Dataset.slug == slug))
    if dataset is None:
        raise click.ClickException(f"No dataset {slug!r}.")
    if fmt == "auto":
        fmt = "csv" if file.suffix.lower() == ".csv" else "ndjson"
    size = os.path.getsize(file)
    with Progress(
        TextColumn("[bold]importing"), BarColumn(), MofNCompleteColumn(), TextColumn("bytes"),
        TimeRemainingColumn(), transient=True, disable=not os.isatty(2),
    ) as progress, open(file, "rb", buffering=0) as raw:
        task = progress.add_task("import", total=size)
        stream = io.BufferedReader(_CountingReader(raw, lambda n: progress.advance(task, n)), 1 << 20)
        if fmt == "csv":
            objects = importer.csv_objects(io.TextIOWrapper(stream, encoding="utf-8-sig", newline=""))
        else:
            objects = importer.ndjson_objects(stream)
        try:
            result = importer.import_records(db.session, dataset, objects)
        except DomainError as error:
            db.session.rollback()
            for line in (error.errors or {}).get("lines", [])[:20]:
                field = f" {line['field']}:" if line["field"] else ""
                click.echo(f"line {line['line']}:{field} {line['message']}", err=True)
            raise click.ClickException(error.message) from error
        except UnicodeDecodeError as error:
            db.session.rollback()
            raise click.ClickException(f"{file.name} is not UTF-8 text; nothing was imported.") from error
    commit()  # and queue what waits for the commit (a large import's personal-data scan)
    click.echo(f"{slug}: {result.created} created, {result.updated} updated.")
