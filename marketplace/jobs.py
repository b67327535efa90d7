"""Background jobs on Huey: SQLite storage by default, Redis at scale, immediate in tests.

Tasks run inside an app context of the app that configured the queue, in one
transaction each (boundary.unit_of_work). Enqueue with `boundary.after_commit`
(SQLite has one writer; an immediate-mode task run inside an open write
transaction would find the database locked).
"""
from __future__ import annotations

import functools
import logging
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


#: Tasks the worker queues each time it starts, before it takes any job: the recovery of work a
#: killed worker took off the queue and never finished (huey removes a task from the queue when
#: a worker takes it). Each must be safe to run beside the jobs it recovers (keyed writes).
_on_worker_start: list = []


def on_worker_start(task_fn):
    """Queue `task_fn` (a `task`) whenever a worker starts; returns it (usable as a decorator)."""
    _on_worker_start.append(task_fn)
    return task_fn


def _fresh_connections() -> None:
    """In each worker process: connections inherited from the parent are not this process's."""
    from marketplace.extensions import db

    app = _state["app"]
    if app is not None:
        with app.app_context():
            db.engine.dispose(close=False)


@click.command("worker")
@click.option("-w", "--workers", default=2, show_default=True, help="Worker threads or processes.")
@click.option("-k", "--worker-type", type=click.Choice(["thread", "process"]), default="thread",
              show_default=True, help="Threads in this process, or one process each.")
@click.option("--periodic/--no-periodic", default=True, show_default=True,
              help="Also queue the periodic jobs (the clock's work). Exactly one running worker "
                   "should: start the others with --no-periodic.")
def worker_command(workers: int, worker_type: str, periodic: bool) -> None:
    """Run the job worker until stopped: TERM finishes the running jobs first, INT stops at once."""
    from huey.consumer import Consumer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    if huey.immediate:
        raise click.ClickException("DIVIDEND_JOBS=immediate runs jobs inline; no worker needed.")
    if worker_type == "process":
        huey.on_startup("fresh_connections")(_fresh_connections)
    for recovery in _on_worker_start:
        recovery()
    click.echo(f"Dividend worker: {workers} {worker_type}{'es' if worker_type == 'process' else 's'} "
               f"on {type(huey).__name__}, periodic jobs {'on' if periodic else 'off'}")
    Consumer(huey, workers=workers, worker_type=worker_type, periodic=periodic, graceful_signal="TERM").run()
