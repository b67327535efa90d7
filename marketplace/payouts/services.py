"""Payout runs: which payables are paid, reserving them, and each payout's outcome.

A run reserves every payable at or above the threshold whose owner has a ready
payout account and no payout in transit: payable → payouts_in_transit, one
ledger transaction per payout keyed `payout:{id}:reserve`. Reservations are
written in batches (`reserve_batch`), each batch one committed database
transaction; a payout is committed as reserved before any provider sees it.
Negative payables (refunds after a payout) are never paid: they net against
later earnings, since a balance is the sum of every entry.

Two runs at once pay each payable once: a batch takes the payouts lock
(PostgreSQL: a transaction-scoped advisory lock; SQLite: the one writer), reads
balances after it, and the unique index on one payout in transit per payable
backs it.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from marketplace.db import utcnow
from marketplace.errors import Conflict, NotFound
from marketplace.ledger import posting
from marketplace.payouts.models import PAYABLES, Payout, PayoutRun, PayoutStatus
from marketplace.payouts.postings import PayoutRef, post_many, post_one

#: Allowed moves of a payout's status (a paid transfer reversed by Stripe fails after all).
ALLOWED = {
    PayoutStatus.IN_TRANSIT: {PayoutStatus.PAID, PayoutStatus.FAILED},
    PayoutStatus.PAID: {PayoutStatus.FAILED},
    PayoutStatus.FAILED: set(),
}
#: The lock every reservation batch takes (PostgreSQL advisory lock key).
RESERVE_LOCK = "payouts:reserve"


class IllegalTransition(Conflict):
    pass


@dataclass(frozen=True)
class Skipped:
    below_threshold: int
    no_account: int
    negative: int
    #: Not skipped: payables the run is to reserve (for a progress bar's total).
    due: int = 0


# ---- which payables -------------------------------------------------------------------

#: A ready payout account for each payable kind, joined to the payable's owner `b.owner_id`.
_READY_ACCOUNT = {
    "contributor_payable": ("JOIN contributors c ON c.id = b.owner_id "
                            "JOIN payout_accounts pa ON pa.user_id = c.user_id AND pa.status = 'ready'"),
    "platform_payable": "JOIN payout_accounts pa ON pa.organization_id = b.owner_id AND pa.status = 'ready'",
}
_READY_EXISTS = {
    "contributor_payable": ("EXISTS (SELECT 1 FROM contributors c JOIN payout_accounts pa ON pa.user_id = c.user_id "
                            "AND pa.status = 'ready' WHERE c.id = b.owner_id)"),
    "platform_payable": ("EXISTS (SELECT 1 FROM payout_accounts pa WHERE pa.organization_id = b.owner_id "
                         "AND pa.status = 'ready')"),
}
_NOT_IN_TRANSIT = ("NOT EXISTS (SELECT 1 FROM payouts p WHERE p.account = :account AND p.owner_id = b.owner_id "
                   "AND p.currency = :currency AND p.status = 'in_transit')")


def _balances(having: str = "") -> str:
    return ("SELECT owner_id, SUM(amount) AS balance FROM ledger_entries "
            "WHERE account = :account AND currency = :currency AND owner_id > :after "
            f"GROUP BY owner_id {having}")


def skipped(session: Session, currency: str, threshold: int) -> Skipped:
    """Payables a run leaves out now: below the threshold (but positive), without a ready account
    (at or above it), negative. Payables with a payout in transit are in none. Raises nothing."""
    counts = [0, 0, 0, 0]
    for account in PAYABLES:
        row = session.execute(text(
            "SELECT COALESCE(SUM(CASE WHEN b.balance > 0 AND b.balance < :threshold THEN 1 ELSE 0 END), 0), "
            f"COALESCE(SUM(CASE WHEN b.balance >= :threshold AND NOT {_READY_EXISTS[account]} THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN b.balance < 0 THEN 1 ELSE 0 END), 0), "
            f"COALESCE(SUM(CASE WHEN b.balance >= :threshold AND {_READY_EXISTS[account]} THEN 1 ELSE 0 END), 0) "
            f"FROM ({_balances()}) b WHERE {_NOT_IN_TRANSIT}"),
            {"account": account, "currency": currency, "threshold": threshold, "after": -1}).one()
        counts = [total + int(value) for total, value in zip(counts, row, strict=True)]
    return Skipped(*counts)


def start_run(session: Session, *, currency: str, threshold: int, started_by: str) -> PayoutRun:
    """A new run, with what it skips counted now (`run.due`, not stored: what it is to reserve).

    :raise ValueError: a threshold below 1."""
    if threshold < 1:
        raise ValueError("the payout threshold must be at least 1 minor unit")
    left_out = skipped(session, currency, threshold)
    run = PayoutRun(currency=currency, threshold=threshold, started_by=started_by,
                    below_threshold=left_out.below_threshold, no_account=left_out.no_account,
                    negative=left_out.negative)
    session.add(run)
    session.flush()
    run.due = left_out.due
    return run


@dataclass(frozen=True)
class Batch:
    reserved: list[PayoutRef]
    #: The last payable owner this batch looked at (the next batch starts after it).
    last_owner: int | None


def reserve_batch(session: Session, run: PayoutRun, account: str, *, after: int = -1,
                  limit: int = 5000) -> Batch:
    """Reserve up to `limit` payables of kind `account` with owner ids above `after`, in owner order:
    insert their payouts and post each one's reservation. Call it in its own database transaction
    and commit before the provider hears of any of them.

    :raise ValueError: an unknown payable kind.
    """
    if account not in PAYABLES:
        raise ValueError(f"not a payable: {account!r}")
    posting.lock_for_writing(session, [RESERVE_LOCK])
    params = {"run": run.id, "account": account, "currency": run.currency, "threshold": run.threshold,
              "after": after, "limit": limit, "now": utcnow()}
    rows = session.execute(text(
        "INSERT INTO payouts (run_id, payout_account_id, provider, account, owner_id, currency, amount, status, "
        "destination, created_at) "
        "SELECT :run, pa.id, pa.provider, :account, b.owner_id, :currency, b.balance, 'in_transit', "
        "CASE WHEN pa.provider = 'stripe' THEN pa.stripe_account_id ELSE pa.email END, :now "
        f"FROM ({_balances('HAVING SUM(amount) >= :threshold')}) b {_READY_ACCOUNT[account]} "
        f"WHERE {_NOT_IN_TRANSIT} ORDER BY b.owner_id LIMIT :limit "
        "RETURNING id, owner_id, amount"), params).all()
    refs = sorted((PayoutRef(int(id_), account, int(owner), run.currency, int(amount))
                   for id_, owner, amount in rows), key=lambda ref: ref.id)
    post_many(session, "reserve", refs)
    return Batch(refs, max((ref.owner_id for ref in refs), default=None))


def reserve_all(session: Session, run: PayoutRun, *, limit: int = 5000) -> list[PayoutRef]:
    """Every reservation of the run in the caller's one transaction (the API's run)."""
    reserved: list[PayoutRef] = []
    for account in PAYABLES:
        after = -1
        while True:
            batch = reserve_batch(session, run, account, after=after, limit=limit)
            reserved.extend(batch.reserved)
            if len(batch.reserved) < limit:
                break
            after = batch.last_owner
    return reserved


# ---- outcomes ------------------------------------------------------------------------

def ref(payout: Payout) -> PayoutRef:
    return PayoutRef(payout.id, payout.account, payout.owner_id, payout.currency, payout.amount)


def _locked(session: Session, payout_id: int) -> Payout:
    posting.lock_for_writing(session, [f"payout:{payout_id}"])
    payout = session.get(Payout, payout_id, populate_existing=True)
    if payout is None:
        raise NotFound(f"No payout {payout_id}.")
    return payout


def _move(payout: Payout, to_status: PayoutStatus) -> bool:
    """False when the payout is already there (a repeat); :raise IllegalTransition: not allowed."""
    if payout.status == to_status:
        return False
    if to_status not in ALLOWED[PayoutStatus(payout.status)]:
        raise IllegalTransition(f"Payout {payout.id} is {payout.status}; it can't become {to_status}.",
                                {"json": {"status": [f"payout {payout.id} is {payout.status}"]}})
    payout.status = to_status
    payout.settled_at = utcnow()
    return True


def mark_paid(session: Session, payout_id: int, *, transfer_id: str | None = None) -> Payout:
    """The processor confirmed the payout: in transit → paid out (a repeat changes nothing).

    :raise NotFound: no such payout. :raise IllegalTransition: it failed already.
    """
    payout = _locked(session, payout_id)
    if transfer_id and payout.transfer_id is None:
        payout.transfer_id = transfer_id
    if _move(payout, PayoutStatus.PAID):
        post_one(session, "paid", ref(payout))
    session.flush()
    return payout


def mark_failed(session: Session, payout_id: int, reason: str) -> Payout:
    """The processor refused or failed the payout: its amount returns to the payable.

    :raise NotFound: no such payout. :raise IllegalTransition: it was paid (only Stripe's reversal
        undoes a paid payout: `mark_reversed`).
    """
    payout = _locked(session, payout_id)
    if payout.status == PayoutStatus.PAID:
        raise IllegalTransition(f"Payout {payout.id} is paid; it can't become failed.",
                                {"json": {"status": [f"payout {payout.id} is paid"]}})
    if _move(payout, PayoutStatus.FAILED):
        payout.failure_reason = (reason or "failed")[:500]
        post_one(session, "failed", ref(payout))
    session.flush()
    return payout


def mark_reversed(session: Session, transfer_id: str, reason: str) -> Payout | None:
    """Stripe reversed a paid transfer in full: paid out → back to the payable, once.
    Returns None when the transfer is not ours or not paid. Raises nothing else."""
    payout = session.scalar(select(Payout).where(Payout.transfer_id == transfer_id))
    if payout is None:
        return None
    payout = _locked(session, payout.id)
    if payout.status != PayoutStatus.PAID:
        return None
    _move(payout, PayoutStatus.FAILED)
    payout.failure_reason = reason[:500]
    post_one(session, "reversed", ref(payout))
    session.flush()
    return payout


def bulk_settle(session: Session, paid: list[int], failed: dict[int, str]) -> tuple[int, int]:
    """Settle many in-transit payouts at once (a batch file's results): set-based status updates and
    postings. Payouts not in transit are left alone (the caller checked them). Returns (paid, failed)."""
    now = utcnow()
    done_paid = _settle_chunked(session, paid, PayoutStatus.PAID, "paid", now, {})
    done_failed = _settle_chunked(session, list(failed), PayoutStatus.FAILED, "failed", now, failed)
    # The updates went around the ORM: payouts it holds must be read again.
    for held in list(session.identity_map.values()):
        if isinstance(held, Payout):
            session.expire(held)
    return done_paid, done_failed


CHUNK = 5000


def _settle_chunked(session: Session, ids: list[int], status: PayoutStatus, step: str, now, reasons) -> int:
    count = 0
    table = Payout.__table__
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        rows = session.execute(
            update(table).where(table.c.id.in_(chunk), table.c.status == PayoutStatus.IN_TRANSIT)
            .values(status=status, settled_at=now)
            .returning(table.c.id, table.c.account, table.c.owner_id, table.c.currency, table.c.amount)).all()
        refs = sorted((PayoutRef(int(r[0]), r[1], int(r[2]), r[3], int(r[4])) for r in rows), key=lambda r: r.id)
        if reasons:
            for payout_ref in refs:
                session.execute(update(table).where(table.c.id == payout_ref.id)
                                .values(failure_reason=(reasons[payout_ref.id] or "failed")[:500]))
        post_many(session, step, refs)
        count += len(refs)
    return count


# ---- reading ---------------------------------------------------------------------------

def payouts_of(session: Session, payables: list[tuple[str, int]], *, page: int = 1, per_page: int = 50):
    """The payouts of the given payables, newest first: (page of Payout, total). Raises nothing."""
    if not payables:
        return [], 0
    from sqlalchemy import or_, and_

    where = or_(*(and_(Payout.account == account, Payout.owner_id == owner) for account, owner in payables))
    total = session.scalar(select(func.count()).select_from(Payout).where(where))
    items = session.scalars(select(Payout).where(where).order_by(Payout.id.desc())
                            .limit(per_page).offset((page - 1) * per_page)).all()
    return list(items), total


def paid_out(session: Session, payables: list[tuple[str, int]], currency: str) -> int:
    """What left the payables: payouts in transit or paid (failed ones returned). Raises nothing."""
    if not payables:
        return 0
    from sqlalchemy import and_, or_

    where = or_(*(and_(Payout.account == account, Payout.owner_id == owner) for account, owner in payables))
    return int(session.scalar(select(func.coalesce(func.sum(Payout.amount), 0)).where(
        where, Payout.currency == currency, Payout.status.in_((PayoutStatus.IN_TRANSIT, PayoutStatus.PAID)))))


def run_summary(session: Session, run_id: int) -> dict:
    """A run's counts and totals by status. :raise NotFound: no such run."""
    run = session.get(PayoutRun, run_id)
    if run is None:
        raise NotFound(f"No payout run {run_id}.")
    rows = session.execute(select(Payout.status, func.count(), func.coalesce(func.sum(Payout.amount), 0))
                           .where(Payout.run_id == run_id).group_by(Payout.status)).all()
    by_status = {status: (int(count), int(total)) for status, count, total in rows}
    payouts = sum(count for count, _t in by_status.values())
    total = sum(total for _c, total in by_status.values())
    return {"run": run, "payouts": payouts, "total": total, "by_status": by_status}


def runs(session: Session, limit: int = 50) -> list[dict]:
    ids = session.scalars(select(PayoutRun.id).order_by(PayoutRun.id.desc()).limit(limit)).all()
    return [run_summary(session, run_id) for run_id in ids]
