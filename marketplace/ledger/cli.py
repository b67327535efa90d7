"""`flask ledger check`."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from marketplace.extensions import db
from marketplace.ledger.check import record_check, run_check, totals_by_account_kind
from marketplace.money import Money

ledger = AppGroup("ledger", help="The double-entry ledger.")


@ledger.command("check")
def check_command() -> None:
    """Verify every invariant over the whole ledger; exit 1 on any violation."""
    result = run_check(db.session)
    record_check(db.session, result)
    db.session.commit()
    click.echo(f"{result.transactions} transactions, {result.entries} entries, "
               f"checked in {result.seconds:.2f} s")
    for account, currency, total, holders in totals_by_account_kind(db.session):
        click.echo(f"  {account:<22} {str(Money(total, currency)):>22}  ({holders} holders)")
    if result.balanced:
        click.echo("OK: every invariant holds.")
        return
    click.echo(f"VIOLATIONS ({len(result.violations)}):", err=True)
    for violation in result.violations:
        click.echo(f"  - {violation['invariant']}: {violation['detail']}", err=True)
    sys.exit(1)
