"""`flask pii …`: scan what is unscanned (every core, a progress bar) and measure the detector."""
from __future__ import annotations

import json
import os
from contextlib import nullcontext

import click
from flask.cli import AppGroup
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import func, select

from marketplace.boundary import unit_of_work
from marketplace.catalog.models import Dataset, Record
from marketplace.extensions import db
from marketplace.pii import detector, evaluation, jobs, scanning

pii = AppGroup("pii", help="Personal data in records: scan and evaluate.")


def _pending(dataset_id: int | None) -> int:
    version = detector.DETECTOR_VERSION
    statement = select(func.count()).select_from(Record).where(
        Record.taken_down_at.is_(None), Record.pii_version.is_(None) | (Record.pii_version != version))
    if dataset_id is not None:
        statement = statement.where(Record.dataset_id == dataset_id)
    return db.session.scalar(statement)


@pii.command("scan")
@click.argument("slug", required=False)
@click.option("--processes", type=int, default=0, show_default=True, help="0: every core.")
def scan_command(slug: str | None, processes: int) -> None:
    """Scan every live record (of SLUG, or of every dataset) not scanned by the current detector."""
    dataset_id = None
    if slug is not None:
        dataset_id = db.session.scalar(select(Dataset.id).where(Dataset.slug == slug))
        if dataset_id is None:
            raise click.ClickException(f"No dataset {slug!r}.")
    processes = processes if processes > 0 else jobs.scan_processes()
    total = _pending(dataset_id)
    db.session.remove()
    slice_size = 100_000
    done = last_id = 0
    with Progress(TextColumn("[bold]scanning"), BarColumn(), MofNCompleteColumn(), TextColumn("records"),
                  TimeRemainingColumn(), transient=True, disable=not os.isatty(2)) as progress, \
            (scanning.process_pool(processes) if processes > 1 else nullcontext()) as pool:
        task = progress.add_task("scan", total=total)
        while True:
            # One transaction a slice: a long scan never holds SQLite's writer for long.
            scanned = unit_of_work(lambda: scanning.scan_records(
                db.session, dataset_id, processes=processes, pool=pool, limit=slice_size,
                after=last_id, on_progress=lambda n: progress.advance(task, n)))
            done, last_id = done + scanned.records, scanned.last_id
            if scanned.records < slice_size:
                break
    click.echo(f"Scanned {done:,} records with {detector.DETECTOR} {detector.DETECTOR_VERSION} "
               f"on {processes} process(es).")


@pii.command("eval")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--mistakes", is_flag=True, help="List the tuning part's misses and false alarms.")
def eval_command(as_json: bool, mistakes: bool) -> None:
    """Recall and precision per type on the labelled fixture (tuning and held-out parts; the
    report quotes the pristine one, never tuned on)."""
    results = {part: evaluation.evaluate(evaluation.load(part), part) for part in evaluation.PARTS}
    if as_json:
        click.echo(json.dumps({part: result.as_dict() for part, result in results.items()}, indent=2))
        return
    click.echo(f"{detector.DETECTOR} {detector.DETECTOR_VERSION}; the report quotes "
               f"{evaluation.REPORTED_PART}, the pristine part (never tuned on). Not scanned: {', '.join(detector.NOT_SCANNED)}.")
    for part, result in results.items():
        recall, precision = result.recall(), result.precision_by_type()
        click.echo(f"\n{part}: {result.texts} texts, {result.clean_texts} without personal data "
                   f"({result.clean_changed_share():.1%} changed); precision overall {result.precision():.3f}")
        click.echo(f"  {'type':<16}{'planted':>8}{'recall':>8}{'findings':>10}{'precision':>11}")
        for kind in detector.TYPES:
            r = "-" if recall[kind] is None else f"{recall[kind]:.3f}"
            p = "-" if precision[kind] is None else f"{precision[kind]:.3f}"
            click.echo(f"  {kind:<16}{result.planted[kind]:>8}{r:>8}{result.findings[kind]:>10}{p:>11}")
    if mistakes:
        for item_id, what in results["tuning"].mistakes:
            click.echo(f"{item_id}: {what}")
