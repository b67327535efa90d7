"""`flask payouts run | settle RUN FILE | reconcile`."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from marketplace.boundary import unit_of_work
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.money import Money
from marketplace.payments.gateway import GatewayError
from marketplace.payouts import batch, reconcile, runner

payouts = AppGroup("payouts", help="Payout runs, batch results and reconciliation.")


@payouts.command("run")
@click.option("--batch-size", default=runner.BATCH, show_default=True, help="Payouts reserved per transaction.")
def run_command(batch_size: int) -> None:
    """Reserve every payable due (in committed batches), then send the Stripe transfers."""
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), transient=True, disable=not os.isatty(2)) as progress:
        tasks: dict[str, int] = {}

        def report(what: str, count: int) -> None:
            if what == "due":
                tasks["reserved"] = progress.add_task("reserving", total=count)
            elif what == "to_send":
                tasks["sent"] = progress.add_task("stripe transfers", total=count)
            elif what in tasks:
                progress.advance(tasks[what], count)

        outcome = runner.run(started_by="cli", progress=report, batch=batch_size)
    currency = current_app.config["CURRENCY"]
    skipped = outcome.skipped
    click.echo(f"Run {outcome.run_id}: {outcome.reserved} payouts reserved, {Money(outcome.total, currency)}; "
               f"skipped {skipped['below_threshold']} below the threshold, {skipped['no_account']} without a "
               f"ready account, {skipped['negative']} negative.")
    click.echo(f"Stripe transfers: {outcome.sent} sent, {outcome.refused} refused (returned to the payable), "
               f"{outcome.retrying} left in transit for the next run.")


@payouts.command("settle")
@click.argument("run_id", type=int)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def settle_command(run_id: int, file: Path) -> None:
    """Import the processor's results FILE (payout_id,status[,reason]) for run RUN_ID: all lines or none."""
    text = file.read_bytes().decode("utf-8-sig")
    try:
        counts = unit_of_work(lambda: batch.import_results(db.session, run_id, text))
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"Run {run_id}: {counts['paid']} paid, {counts['failed']} failed.")


@payouts.command("reconcile")
def reconcile_command() -> None:
    """Compare the ledger's payouts with the processors'; exit 1 on any difference."""
    try:
        result = unit_of_work(lambda: reconcile.reconcile(db.session, current_app.extensions["payment_gateway"]),
                              write=False)
    except GatewayError as error:
        raise click.ClickException(f"Stripe could not be listed: {error}") from error
    click.echo(f"{result.matched} payouts match.")
    for name in ("missing_at_processor", "missing_in_ledger", "amount_mismatch"):
        for item in getattr(result, name):
            click.echo(f"  {name}: payout {item['payout_id']} transfer {item['transfer_id']} "
                       f"ledger {item['ledger']} processor {item['processor']}", err=True)
    if not result.clean:
        click.echo("DIFFERENCES FOUND.", err=True)
        sys.exit(1)
    click.echo("OK: the ledger and the processors agree.")
