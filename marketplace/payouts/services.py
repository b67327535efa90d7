"""Payout runs: which payables are paid, and reserving them (outcomes.py settles each payout).

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

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.orm import Session

from marketplace.db import utcnow
from marketplace.errors import NotFound
from marketplace.ledger import posting
from marketplace.payouts.models import PAYABLES, Payout, PayoutRun, PayoutStatus
from marketplace.payouts.postings import PayoutRef, post_many

#: The lock every reservation batch takes (PostgreSQL advisory lock key).
RESERVE_LOCK = "payouts:reserve"


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


# ---- reading ---------------------------------------------------------------------------

def _of(payables: list[tuple[str, int]]):
    return or_(*(and_(Payout.account == account, Payout.owner_id == owner) for account, owner in payables))


def payouts_of(session: Session, payables: list[tuple[str, int]], *, page: int = 1, per_page: int = 50):
    """The payouts of the given payables, newest first: (page of Payout, total). Raises nothing."""
    if not payables:
        return [], 0
    where = _of(payables)
    total = session.scalar(select(func.count()).select_from(Payout).where(where))
    items = session.scalars(select(Payout).where(where).order_by(Payout.id.desc())
                            .limit(per_page).offset((page - 1) * per_page)).all()
    return list(items), total


def paid_out(session: Session, payables: list[tuple[str, int]], currency: str) -> int:
    """What left the payables: payouts in transit or paid (failed ones returned). Raises nothing."""
    if not payables:
        return 0
    where = _of(payables)
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
