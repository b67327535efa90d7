"""`flask --app app delivery trace FILE`: which license an exported file came from."""
from __future__ import annotations

import gzip
from collections.abc import Iterator

import click
from flask import current_app

from marketplace.boundary import unit_of_work
from marketplace.delivery.tracing import trace
from marketplace.extensions import db


@click.group("delivery")
def delivery() -> None:
    """Delivery: tracing leaked exports."""


def _lines(path: str) -> Iterator[bytes]:
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    with opener(path, "rb") as handle:
        yield from handle


@delivery.command("trace")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def trace_command(file: str) -> None:
    """Name the license FILE (a JSONL export, whole or partial, gzip or not) came from.

    Exits 1 when nothing in the file points at a license.
    """
    found = unit_of_work(lambda: trace(db.session, current_app.config["SECRET_KEY"], _lines(file)), write=False)
    if not found:
        raise click.ClickException("No license found: the file has no canary and no pseudonym of ours.")
    for hit in found:
        click.echo(f"License {hit.license_id}: buyer {hit.buyer}, dataset {hit.dataset} "
                   f"({hit.evidence} {hit.how} line{'s' if hit.evidence != 1 else ''})")
