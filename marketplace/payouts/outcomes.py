"""A payout's outcome, once: the processor confirmed it (in transit → paid out), refused or failed
it (back to the payable), or Stripe reversed a paid transfer (paid out → back to the payable).

Each move is checked against ALLOWED and posts its step under the payout's key, so a repeat
changes nothing and a contradiction is a 409. `bulk_settle` does the same for a batch file's
results, set-based.
"""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from marketplace.db import utcnow
from marketplace.errors import Conflict, NotFound
from marketplace.ledger import posting
from marketplace.payouts.models import Payout, PayoutStatus
from marketplace.payouts.postings import PayoutRef, post_many, post_one

#: Allowed moves of a payout's status (a paid transfer reversed by Stripe fails after all).
ALLOWED = {
    PayoutStatus.IN_TRANSIT: {PayoutStatus.PAID, PayoutStatus.FAILED},
    PayoutStatus.PAID: {PayoutStatus.FAILED},
    PayoutStatus.FAILED: set(),
}


class IllegalTransition(Conflict):
    pass


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
