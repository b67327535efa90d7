"""Flask commands in one transaction each (boundary.unit_of_work), a refusal shown as click shows errors.

A command loads its arguments, runs its work through `in_one_transaction` and prints what
came of it afterwards, so that nothing is printed as done before it is committed.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from marketplace.boundary import unit_of_work
from marketplace.errors import DomainError

T = TypeVar("T")

#: A refused import names at most this many of its bad lines (the message says how many).
LINES_SHOWN = 20


class Refused(click.ClickException):
    """A domain error as a command's error: the bad lines it names (if any), then its message."""

    def __init__(self, error: DomainError, suffix: str = ""):
        super().__init__(f"{error.message}{suffix}")
        details = error.errors if isinstance(error.errors, dict) else {}
        self.lines = details.get("lines") or []

    def show(self, file=None) -> None:
        for line in self.lines[:LINES_SHOWN]:
            field = f" {line['field']}:" if line.get("field") else ""
            click.echo(f"line {line['line']}:{field} {line['message']}", err=True)
        super().show(file)


def in_one_transaction(work: Callable[[], T], *, write: bool = True, refused: str = "") -> T:
    """Run `work()` in one transaction (commit at its end, roll back on any error, retry a
    locked SQLite database: `work` must be safe to repeat) and return what it returns.

    :raise Refused: `work` raised a domain error (rolled back); `refused` is added to its message.
    """
    try:
        return unit_of_work(work, write=write)
    except DomainError as error:
        raise Refused(error, refused) from error
