"""The batch provider: the run's file for the processor, and the processor's results back.

The file is PayPal Payouts' mass-payment CSV, without a header: per payout,
recipient e-mail, amount in major units, currency code, reference id (our
payout id, which the results name), note to recipient, recipient wallet.

The results are `payout_id,status[,reason]` lines (status `paid` or `failed`;
a first line `payout_id,…` is a header and skipped). Every line is checked
before anything is written: a bad line is a 422 naming it, and nothing changes.
Repeating a line (or the whole file) changes nothing; a line contradicting a
payout's settled outcome (failed after paid) is a 409 naming the line.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from marketplace.db import utcnow
from marketplace.errors import Conflict, Invalid, NotFound
from marketplace.line_reader import readable_rows
from marketplace.payouts import outcomes
from marketplace.payouts.models import Payout, PayoutRun, PayoutStatus, Provider

#: ISO 4217 currencies without minor units (the rest have two, in version 1).
ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
                          "vuv", "xaf", "xof", "xpf"})
RESULT_STATUSES = ("paid", "failed")
CHUNK = 5000


def major_units(amount: int, currency: str) -> str:
    """12345 usd → "123.45"; 500 jpy → "500" (exact: integer arithmetic only)."""
    if currency in ZERO_DECIMAL:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole}.{cents:02d}"


def _run(session: Session, run_id: int) -> PayoutRun:
    run = session.get(PayoutRun, run_id)
    if run is None:
        raise NotFound(f"No payout run {run_id}.")
    return run


def file_lines(session: Session, run_id: int) -> Iterator[str]:
    """The run's batch file, one CSV line per batch payout (every one the run reserved, whatever
    its outcome since: the file is what was sent). :raise NotFound: no such run."""
    _run(session, run_id)
    query = (select(Payout.id, Payout.destination, Payout.amount, Payout.currency)
             .where(Payout.run_id == run_id, Payout.provider == Provider.BATCH).order_by(Payout.id))
    last = 0
    while True:
        rows = session.execute(query.where(Payout.id > last).limit(CHUNK)).all()
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for payout_id, email, amount, currency in rows:
            writer.writerow([email, major_units(amount, currency), currency.upper(), str(payout_id),
                             f"Dividend payout {payout_id}", "PAYPAL"])
        yield buffer.getvalue()
        if len(rows) < CHUNK:
            return
        last = rows[-1][0]


@dataclass(frozen=True)
class ResultLine:
    line: int
    payout_id: int
    status: str
    reason: str | None


def parse_results(text: str) -> list[ResultLine]:
    """Read `payout_id,status[,reason]` lines. :raise Invalid: a bad line (named: "line N")."""
    parsed: list[ResultLine] = []
    seen: dict[int, ResultLine] = {}
    reader = csv.reader(io.StringIO(text))
    for number, row in enumerate(readable_rows(reader), start=1):
        if row is None:
            name = f"line {reader.line_num}"
            raise Invalid(f"{name}: not readable as CSV (a field too long, or a quote left open).",
                          {name: ["Not readable as CSV."]})
        if not row or all(not cell.strip() for cell in row):
            continue
        if number == 1 and row[0].strip().lower() == "payout_id":
            continue
        name = f"line {number}"
        if len(row) < 2 or len(row) > 3:
            raise Invalid(f"{name}: expected payout_id,status[,reason].", {name: ["Expected payout_id,status[,reason]."]})
        raw_id, status = row[0].strip(), row[1].strip().lower()
        if not raw_id.isdecimal() or len(raw_id) > 18:
            raise Invalid(f"{name}: payout_id must be a payout's number.", {name: ["payout_id must be a number."]})
        if status not in RESULT_STATUSES:
            raise Invalid(f"{name}: status must be paid or failed.", {name: ["status must be paid or failed."]})
        reason = row[2].strip()[:500] if len(row) == 3 and row[2].strip() else None
        result = ResultLine(number, int(raw_id), status, reason)
        earlier = seen.get(result.payout_id)
        if earlier is not None and earlier.status != status:
            raise Invalid(f"{name}: payout {result.payout_id} is {earlier.status} on line {earlier.line}.",
                          {name: [f"Contradicts line {earlier.line}."]})
        seen[result.payout_id] = result
        parsed.append(result)
    return parsed


def import_results(session: Session, run_id: int, text: str) -> dict:
    """Apply the processor's results for the run's batch payouts: paid → paid out, failed → back to
    the payable. Returns {"paid", "failed"}: the lines' counts by status (repeats included).

    :raise NotFound: no such run. :raise Invalid: a bad line, or a payout not of this run's batch
        (named: "line N"); nothing is written. :raise Conflict: a line contradicts a settled outcome.
    """
    _run(session, run_id)
    lines = parse_results(text)
    known: dict[int, tuple[str, str]] = {}
    ids = sorted({line.payout_id for line in lines})
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        known.update({payout_id: (status, provider) for payout_id, status, provider in session.execute(
            select(Payout.id, Payout.status, Payout.provider).where(Payout.id.in_(chunk), Payout.run_id == run_id))})
    paid: list[int] = []
    failed: dict[int, str] = {}
    for line in lines:
        name = f"line {line.line}"
        state = known.get(line.payout_id)
        if state is None or state[1] != Provider.BATCH:
            raise Invalid(f"{name}: payout {line.payout_id} is not in run {run_id}'s batch file.",
                          {name: [f"No payout {line.payout_id} in this run's batch file."]})
        current = state[0]
        if current == PayoutStatus.IN_TRANSIT:
            if line.status == "paid":
                paid.append(line.payout_id)
            else:
                failed[line.payout_id] = line.reason or "failed"
        elif current != line.status:
            raise Conflict(f"{name}: payout {line.payout_id} is already {current}.",
                           {"json": {name: [f"Payout {line.payout_id} is already {current}."]}})
    paid = sorted(set(paid))
    outcomes.bulk_settle(session, paid, failed)
    _record(session, sorted(set(paid) | set(failed)))
    return {"paid": sum(1 for line in lines if line.status == "paid"),
            "failed": sum(1 for line in lines if line.status == "failed")}


def _record(session: Session, settled: list[int]) -> None:
    """Keep the processor's word (reconciliation's processor side) for the payouts settled now:
    their new status and reason, copied set-based."""
    now = utcnow()
    statement = text("INSERT INTO payout_results (payout_id, status, reason, imported_at) "
                     "SELECT id, status, failure_reason, :now FROM payouts WHERE id IN :ids") \
        .bindparams(bindparam("ids", expanding=True))
    for start in range(0, len(settled), CHUNK):
        session.execute(statement, {"now": now, "ids": settled[start:start + CHUNK]})
