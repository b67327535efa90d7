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


def _codes(n: int, what: str = "claim code") -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


@claim_codes.command("export")
@click.argument("platform_slug")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--reissue", is_flag=True,
              help="Revoke every open code of the unclaimed contributors (codes already mailed stop working) "
                   "and write a new code for each of them. Asks to confirm, saying how many it revokes.")
@click.option("--yes", is_flag=True, help="With --reissue: don't ask (for scripts).")
def export_command(platform_slug: str, file: Path, reissue: bool, yes: bool) -> None:
    """Write a code for every unclaimed contributor of PLATFORM_SLUG without an open code to FILE (CSV).

    Open codes keep working: their contributors are skipped. With --reissue, those codes are
    revoked and everyone unclaimed gets a new one. FILE is written before anything is committed
    and removed if the export fails, so no code in it is unknown to the database or vice versa.
    """

    def find() -> tuple[int, str, claims.ExportPlan]:
        platform = accounts.platform_by_slug(db.session, platform_slug)
        return platform.id, platform.slug, claims.export_plan(db.session, platform.id)

    # Two transactions: a read (the platform, and the counts for the question and the progress
    # bar), then the export itself, all of it in one write transaction with the file.
    platform_id, slug, plan = in_one_transaction(find, write=False)
    if reissue and not yes:
        click.confirm(f"This revokes {_codes(plan.open_codes, 'open claim code')} of {slug}: codes already "
                      f"handed out stop working. Then each of the {plan.unclaimed:,} unclaimed contributors "
                      "gets a new code. Re-issue?", abort=True)
    try:
        out = open(file, "w", encoding="utf-8", newline="")
    except OSError as error:
        raise click.ClickException(f"Can't write {file}: {error.strerror}.") from error

    def write_codes() -> claims.Exported:
        out.seek(0)
        out.truncate()  # a retry (the database was locked) writes the file again from the start
        with Progress(
            TextColumn("[bold]issuing codes"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            transient=True, disable=not os.isatty(2),
        ) as progress:
            task = progress.add_task("export", total=plan.unclaimed)
            # The count confirmed above: a code issued or used since makes it a refusal, not a surprise.
            exported = claims.export(db.session, platform_id, out, reissue=reissue,
                                     confirm_revoking=plan.open_codes if reissue else None,
                                     progress=lambda n: progress.advance(task, n))
        out.flush()
        os.fsync(out.fileno())
        return exported

    try:
        with out:
            exported = in_one_transaction(write_codes, refused=" Nothing was written; run the command again.")
    except BaseException:
        file.unlink(missing_ok=True)
        raise
    days = claims.lifetime().days
    summary = f"{slug}: {_codes(exported.issued)} written to {file} (valid for {days} days)."
    if reissue:
        summary += f" Revoked {_codes(exported.revoked, 'open code')} first."
    elif exported.skipped:
        summary += (f" Skipped {_codes(exported.skipped, 'contributor')} holding an open code: "
                    f"{'it keeps' if exported.skipped == 1 else 'theirs keep'} working.")
    click.echo(summary)
