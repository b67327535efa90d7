"""`flask admin …`: staff accounts."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from marketplace.accounts import services
from marketplace.errors import DomainError
from marketplace.extensions import db

admin = AppGroup("admin", help="Marketplace staff accounts.")


@admin.command("create")
@click.argument("email")
@click.option("--password", default=None, help="Also set a web log-in password.")
def create_admin(email: str, password: str | None) -> None:
    """Create an admin (or add a key to an existing one); print the key alone on the last line."""
    try:
        issued = services.create_admin(db.session, email)
        if password is not None:
            services.validate_credentials(email, password)
            issued.key.user.password_hash = services.hash_password(password)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"Admin {issued.key.user.email} ready. API key (shown once):", err=True)
    click.echo(issued.secret)
