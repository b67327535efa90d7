"""`flask ledger check`."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from marketplace.boundary import unit_of_work
from marketplace.extensions import db
from marketplace.ledger.check import totals_by_account_kind
from marketplace.ledger.jobs import check_and_record
from marketplace.money import Money

ledger = AppGroup("ledger", help="The double-entry ledger.")


@ledger.command("check")
def check_command() -> None:
    """Verify every invariant over the whole ledger and record the run; exit 1 on any violation."""
    result = check_and_record()
    totals = unit_of_work(lambda: totals_by_account_kind(db.session), write=False)
    click.echo(f"{result.transactions} transactions, {result.entries} entries, "
               f"checked in {result.seconds:.2f} s")
    for account, currency, total, holders in totals:
        click.echo(f"  {account:<22} {str(Money(total, currency)):>22}  ({holders} holders)")
    if result.balanced:
        click.echo("OK: every invariant holds.")
        return
    click.echo(f"VIOLATIONS ({len(result.violations)}):", err=True)
    for violation in result.violations:
        click.echo(f"  - {violation['invariant']}: {violation['detail']}", err=True)
    sys.exit(1)
