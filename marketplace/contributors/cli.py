"""`flask claim-codes …`: a platform's claim codes in bulk, for it to mail out."""
from __future__ import annotations

import os
from pathlib import Path

import click
from flask.cli import AppGroup
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import func, select

from marketplace.accounts.models import Organization
from marketplace.catalog.models import Contributor
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
    platform = db.session.scalar(select(Organization).where(
        Organization.slug == platform_slug, Organization.kind == "platform"))
    if platform is None:
        raise click.ClickException(f"No platform {platform_slug!r}.")
    total = db.session.scalar(select(func.count()).select_from(Contributor).where(
        Contributor.platform_id == platform.id, Contributor.user_id.is_(None)))
    try:
        out = open(file, "w", encoding="utf-8", newline="")
    except OSError as error:
        raise click.ClickException(f"Can't write {file}: {error.strerror}.") from error
    try:
        with out, Progress(
            TextColumn("[bold]issuing codes"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            transient=True, disable=not os.isatty(2),
        ) as progress:
            task = progress.add_task("export", total=total)
            written = claims.export_codes(db.session, platform.id, out,
                                          progress=lambda n: progress.advance(task, n))
            out.flush()
            os.fsync(out.fileno())
        db.session.commit()
    except BaseException:
        db.session.rollback()
        file.unlink(missing_ok=True)
        raise
    days = claims.lifetime().days
    click.echo(f"{platform.slug}: {written:,} claim codes written to {file} (valid for {days} days).")
