"""Running `ledger check` beside the writers: read in one transaction, record in another.

The check reads the whole ledger, which takes seconds on a large one (11 s on a demo database).
Run inside a write transaction (a POST request's, which takes SQLite's write lock before its
first statement, or a job's default unit of work), it held that lock all along, and the worker's
expiry job died with "database is locked". So the check reads in a read transaction
(`unit_of_work(write=False)`: under WAL it keeps no writer waiting, and it reads one snapshot),
and its result is recorded in a second, short write transaction.

`flask ledger check` calls `check_and_record` directly. The admin page's "Run check" is a POST,
which holds the write lock from its first statement: it only enqueues `run_ledger_check`, after
its commit (`boundary.after_commit`); the job runs it in the worker, or at once with
`JOBS=immediate`. `GET /api/v1/admin/ledger/check` runs `run_check` in its own read-only request
and records nothing (a GET never writes).
"""
from __future__ import annotations

from marketplace import jobs
from marketplace.boundary import unit_of_work
from marketplace.extensions import db
from marketplace.ledger.check import CheckResult, record_check, run_check


def check_and_record() -> CheckResult:
    """Verify every invariant in a read transaction, then record the run in a short write one.

    Returns the result (recorded, balanced or not). Raises what an invariant raises; a locked
    database is retried by `unit_of_work`.
    """
    result = unit_of_work(lambda: run_check(db.session), write=False)
    unit_of_work(lambda: record_check(db.session, result))
    return result


@jobs.task(transaction=False)  # it opens its own units of work: a read, then a short write
def run_ledger_check() -> tuple[bool, int]:
    """The admin page's check, as a job: (balanced, how many violations), also recorded."""
    result = check_and_record()
    return result.balanced, len(result.violations)
