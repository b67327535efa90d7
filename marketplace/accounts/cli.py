"""`flask admin …`: staff accounts."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from marketplace.accounts import services
from marketplace.cli_support import in_one_transaction
from marketplace.extensions import db

admin = AppGroup("admin", help="Marketplace staff accounts.")


@admin.command("create")
@click.argument("email")
@click.option("--password", default=None, help="Also set a web log-in password.")
def create_admin(email: str, password: str | None) -> None:
    """Create an admin (or add a key to an existing one); print the key alone on the last line."""

    def create() -> tuple[str, str]:
        issued = services.create_admin(db.session, email, password)
        return issued.key.user.email, issued.secret

    address, secret = in_one_transaction(create)
    click.echo(f"Admin {address} ready. API key (shown once):", err=True)
    click.echo(secret)
