"""`flask demo`: realistic demo data (filled in below)."""
import click


@click.command("demo")
def demo_command() -> None:
    """Load demo data."""
    raise click.ClickException("not yet")
