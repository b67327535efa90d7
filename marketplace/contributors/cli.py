"""`flask claim-codes …`: a platform's claim codes in bulk, for it to mail out."""
from __future__ import annotations

import os
from pathlib import Path

import click
from flask.cli import AppGroup
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from marketplace.accounts import services as accounts
from marketplace.cli_support import in_one_transaction
from marketplace.contributors import claims
from marketplace.extensions import db

claim_codes = AppGroup("claim-codes", help="Claim codes for contributors.")


@claim_codes.command("export")
@click.argument("platform_slug")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def export_command(platform_slug: str, file: Path) -> None:
    """Write a fresh code for every unclaimed contributor of PLATFORM_SLUG to FILE (CSV).

    Their older open codes are revoked. FILE is written before anything is committed and
    removed if the export fails, so no code in it is unknown to the database or vice versa.
    """

    def find() -> tuple[int, str, int]:
        platform = accounts.platform_by_slug(db.session, platform_slug)
        return platform.id, platform.slug, claims.unclaimed_count(db.session, platform.id)

    # Two transactions: a read (the platform, and the count for the progress bar only), then
    # the export itself, all of it in one write transaction with the file.
    platform_id, slug, total = in_one_transaction(find, write=False)
    try:
        out = open(file, "w", encoding="utf-8", newline="")
    except OSError as error:
        raise click.ClickException(f"Can't write {file}: {error.strerror}.") from error

    def write_codes() -> int:
        out.seek(0)
        out.truncate()  # a retry (the database was locked) writes the file again from the start
        with Progress(
            TextColumn("[bold]issuing codes"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            transient=True, disable=not os.isatty(2),
        ) as progress:
            task = progress.add_task("export", total=total)
            written = claims.export_codes(db.session, platform_id, out,
                                          progress=lambda n: progress.advance(task, n))
        out.flush()
        os.fsync(out.fileno())
        return written

    try:
        with out:
            written = in_one_transaction(write_codes)
    except BaseException:
        file.unlink(missing_ok=True)
        raise
    days = claims.lifetime().days
    click.echo(f"{slug}: {written:,} claim codes written to {file} (valid for {days} days).")
