"""One transaction boundary for requests, jobs and commands (indico's `RH.process`, pyramid_tm).

Services flush and never commit. The boundary around them commits once at the
end, rolls back on any error, and only then runs the work queued with
`after_commit` (enqueuing jobs: SQLite has one writer, so a job run inline
inside the still-open write transaction would find the database locked).

- Requests: `BoundaryFlask.dispatch_request`. A writing request (POST, PUT,
  PATCH, DELETE) that answers below 400 commits; one that answers 400 or more
  rolls back, and so does every GET, HEAD and OPTIONS: a GET never writes.
- Jobs and commands: `unit_of_work()`, which also retries a transaction that
  found SQLite's database locked (long reads elsewhere, the other process's
  writer), with backoff, instead of dying.
- Form views: `attempt()`, which rolls a refused service call back to a
  savepoint and turns the domain error into field messages for the form.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import Flask, request
from marshmallow import ValidationError
from sqlalchemy.exc import OperationalError

from marketplace.db import begin_immediate
from marketplace.errors import DomainError
from marketplace.extensions import db

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_AFTER_COMMIT = "dividend.after_commit"


def after_commit(work: Callable[..., object], *args, **kwargs) -> None:
    """Run `work(*args, **kwargs)` once the current transaction has committed (never if it rolls back).

    In a read-only request it runs once the request's reads are done.
    """
    db.session.info.setdefault(_AFTER_COMMIT, []).append((work, args, kwargs))


def _take_after_commit() -> list:
    return db.session.info.pop(_AFTER_COMMIT, [])


def commit() -> None:
    """Commit the session and run the work queued for after the commit (dropped if it fails)."""
    try:
        db.session.commit()
    except BaseException:
        rollback()
        raise
    _run_after_commit(_take_after_commit())


def rollback() -> None:
    """Roll the session back; the work queued for after a commit is dropped with it."""
    _take_after_commit()
    db.session.rollback()


class BoundaryFlask(Flask):
    """Flask whose every view runs inside the request's one transaction."""

    def dispatch_request(self):  # noqa: D401 (Flask's name)
        response = self.make_response(super().dispatch_request())
        if request.method in SAFE_METHODS:
            # Nothing a read did may persist; its after-commit work (a job that saves what the
            # clock changed, say) still runs.
            queued = _take_after_commit()
            db.session.rollback()
            _run_after_commit(queued)
        elif response.status_code < 400:
            commit()
        else:
            rollback()
        return response


def is_locked(error: OperationalError) -> bool:
    """SQLite's "database is locked" (or "busy"): another connection holds the write lock."""
    text = str(getattr(error, "orig", error)).lower()
    return "database is locked" in text or "database is busy" in text


#: A job or command that found the database locked tries again this many times in all.
LOCKED_ATTEMPTS = 6


def _run_after_commit(queued: list) -> None:
    for work, args, kwargs in queued:
        work(*args, **kwargs)


def _committed(work: Callable[[], object], *, write: bool):
    """`work()` in one transaction, committed; returns (its result, the work queued for after).

    Nothing queued runs here: a retry of a locked transaction must not run it twice.
    """
    if write:
        begin_immediate(db.session)
    try:
        result = work()
        db.session.commit()
    except BaseException:
        rollback()
        raise
    return result, _take_after_commit()


def unit_of_work(work: Callable[[], object], *, write: bool = True, attempts: int = LOCKED_ATTEMPTS,
                 base_delay: float = 0.2):
    """Run `work()` in one transaction: commit at the end, roll back on any error.

    A locked database (SQLite: busy_timeout ran out while another connection
    wrote) rolls back and tries the whole work again after an exponential,
    jittered delay, up to `attempts` times; `work` must therefore be safe to
    repeat (every write here is keyed). The work queued with `after_commit`
    runs once, after the commit that succeeded. Returns what `work` returns.
    """
    for attempt in range(1, attempts + 1):
        try:
            result, queued = _committed(work, write=write)
        except OperationalError as error:
            if not is_locked(error) or attempt == attempts:
                raise
            time.sleep(base_delay * 2 ** (attempt - 1) * (0.5 + random.random()))
            continue
        _run_after_commit(queued)
        return result
    raise AssertionError("unreachable")


def field_messages(error: DomainError | ValidationError) -> dict:
    """A refusal as a form's field messages: {"field": ["message"]}, or {"_": [message]} for the form."""
    if isinstance(error, ValidationError):
        messages = error.messages
        return messages if isinstance(messages, dict) else {"_": list(messages)}
    named = (error.errors or {}).get("json")
    return named if isinstance(named, dict) and named else {"_": [error.message]}


@dataclass
class Attempt:
    """What `attempt()` caught: nothing (`ok`), or the refusal and its field messages."""

    error: DomainError | ValidationError | None = None
    errors: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def message(self) -> str:
        if isinstance(self.error, DomainError):
            return self.error.message
        return "; ".join(f"{name}: {texts[0]}" for name, texts in self.errors.items()
                         if isinstance(texts, list) and texts) or "Check the form."


@contextmanager
def attempt() -> Iterator[Attempt]:
    """For form views: try a service call; on a domain or validation error, undo its writes
    (to a savepoint) and keep the error for the page instead of raising it.

        with attempt() as outcome:
            dataset = services.create_dataset(db.session, platform_id, schema.load(values))
        if outcome.ok: ...redirect...
        return render_template(..., errors=outcome.errors), 422
    """
    outcome = Attempt()
    queued = len(db.session.info.get(_AFTER_COMMIT, []))
    savepoint = db.session.begin_nested()
    try:
        yield outcome
    except (DomainError, ValidationError) as error:
        savepoint.rollback()
        # What the refused call queued for after the commit goes with its writes.
        del db.session.info.get(_AFTER_COMMIT, [])[queued:]
        outcome.error, outcome.errors = error, field_messages(error)
    else:
        savepoint.commit()


def init_app(app: Flask) -> None:
    """Writing requests take SQLite's write lock before anything else reads (db.begin_immediate)."""

    @app.before_request
    def _writers_begin_immediate() -> None:
        if request.method not in SAFE_METHODS:
            begin_immediate(db.session)
