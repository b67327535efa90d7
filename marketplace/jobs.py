"""Background jobs on Huey: SQLite storage by default, Redis at scale, immediate in tests.

Tasks run inside an app context of the app that configured the queue, in one
transaction each (boundary.unit_of_work). Enqueue with `boundary.after_commit`
(SQLite has one writer; an immediate-mode task run inside an open write
transaction would find the database locked).
"""
from __future__ import annotations

import functools
from pathlib import Path

import click
from flask import Flask
from huey import MemoryHuey, RedisHuey, SqliteHuey
from huey.api import Huey

from marketplace import config as config_module

_state: dict = {"app": None}


def _make_huey(setting: str) -> Huey:
    if setting == "immediate":
        return MemoryHuey("dividend", immediate=True)
    if setting.startswith(("redis://", "rediss://")):
        return RedisHuey("dividend", url=setting)
    Path(setting).parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("dividend", filename=setting)


huey: Huey = _make_huey(config_module.load()["JOBS"])


def init_app(app: Flask) -> None:
    global huey
    setting = app.config["JOBS"]
    if setting == "immediate":
        huey.immediate = True
    elif getattr(huey, "filename", None) != setting and not setting.startswith("redis"):
        huey.storage = _make_huey(setting).storage
    _state["app"] = app


def _in_app(fn, *, transaction: bool):
    """`fn` inside the configured app's context and, with `transaction`, one unit of work
    (boundary.unit_of_work: commits once at the end, rolls back on error, retries a locked
    database). Without it the job opens its own units of work: a long read beside the
    writers, or work that must commit step by step (a payout run)."""

    @functools.wraps(fn)
    def run_in_app(*args, **kwargs):
        from marketplace.boundary import unit_of_work

        with _state["app"].app_context():
            if not transaction:
                return fn(*args, **kwargs)
            return unit_of_work(lambda: fn(*args, **kwargs))

    return run_in_app


def task(*, transaction: bool = True, **options):
    """`huey.task`, run in the app's context and (by default) one transaction that commits once."""

    def decorate(fn):
        return huey.task(**options)(_in_app(fn, transaction=transaction))

    return decorate


def periodic_task(schedule, *, transaction: bool = True, **options):
    """`huey.periodic_task`, run like `task`."""

    def decorate(fn):
        return huey.periodic_task(schedule, **options)(_in_app(fn, transaction=transaction))

    return decorate


@click.command("worker")
@click.option("--workers", default=2, show_default=True, help="Worker threads.")
def worker_command(workers: int) -> None:
    """Run the job worker until interrupted."""
    from huey.consumer import Consumer

    if huey.immediate:
        raise click.ClickException("DIVIDEND_JOBS=immediate runs jobs inline; no worker needed.")
    click.echo(f"Dividend worker: {workers} threads on {type(huey).__name__}")
    Consumer(huey, workers=workers, worker_type="thread").run()
