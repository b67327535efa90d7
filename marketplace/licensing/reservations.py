"""What keeps a buyer from holding offers without paying for them.

A pending license reserves its offer for 30 minutes (SPEC.md), and a pending
license of an exclusive offer keeps every other buyer out meanwhile; each one
also opens a PaymentIntent at the processor. Two limits, both configured
(marketplace/config.py), stop that from becoming a free hold:

- a buyer organization has at most `MAX_PENDING_LICENSES` licenses waiting for
  their payment at once;
- a buyer whose reservation of an exclusive offer ended unpaid (it lapsed, or
  the buyer canceled it) can't reserve that offer again for
  `EXCLUSIVE_RESERVATION_COOLDOWN_HOURS`; other buyers can meanwhile.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.catalog.models import Offer
from marketplace.errors import Conflict
from marketplace.fields import utc_text
from marketplace.licensing.models import License, LicenseStatus


class ReservationRefused(Conflict):
    """A 409 that may say, in `available_at`, when the buyer can reserve again."""

    def __init__(self, message: str, available_at: datetime | None = None):
        super().__init__(message)
        if available_at is not None:
            self.extra = {"available_at": utc_text(available_at)}


def pending_count(session: Session, buyer_id: int, now: datetime) -> int:
    """The buyer's licenses still waiting for their payment (inside their 30 minutes)."""
    return session.scalar(select(func.count()).select_from(License).where(
        License.buyer_id == buyer_id, License.status == LicenseStatus.PENDING_PAYMENT, License.pay_by > now))


def check_pending_cap(session: Session, buyer_id: int, now: datetime, limit: int) -> None:
    """:raise ReservationRefused: the buyer already has `limit` licenses waiting for payment."""
    waiting = pending_count(session, buyer_id, now)
    if waiting >= limit:
        raise ReservationRefused(
            f"Your organization has {waiting} licenses waiting for payment (at most {limit} at once): "
            f"pay or cancel one of them under Licenses before starting another checkout.")


def released_at(license: License, now: datetime) -> datetime | None:
    """When an unpaid reservation ended: its deadline passed, or it was canceled (whichever came
    first); None while it still holds, or when it was paid."""
    from marketplace.licensing.services import effective_status  # services imports this module

    if license.status == LicenseStatus.PENDING_PAYMENT:
        return license.pay_by if effective_status(license, now) == LicenseStatus.CANCELED else None
    if license.status != LicenseStatus.CANCELED:
        return None
    canceled = [t.at for t in license.transitions if t.to_status == LicenseStatus.CANCELED]
    return min([license.pay_by, *canceled])


def check_cooldown(session: Session, buyer_id: int, offer: Offer, now: datetime, hours: int) -> None:
    """:raise ReservationRefused: the buyer's reservation of this exclusive offer ended unpaid less
    than `hours` ago (says from when it can reserve the offer again)."""
    if not offer.exclusive or hours <= 0:
        return
    window = timedelta(hours=hours)
    unpaid = session.scalars(select(License).where(
        License.buyer_id == buyer_id, License.offer_id == offer.id,
        License.status.in_((LicenseStatus.PENDING_PAYMENT, LicenseStatus.CANCELED)),
        License.pay_by > now - window,
    )).all()
    ends = [end for end in (released_at(license, now) for license in unpaid) if end is not None]
    if not ends:
        return
    ended = max(ends)
    again = _next_minute(ended + window)
    if ended + window > now:
        raise ReservationRefused(
            f"Your reservation of this exclusive offer ended unpaid at {ended:%Y-%m-%d %H:%M} UTC; "
            f"you can reserve it again from {again:%Y-%m-%d %H:%M} UTC. Other buyers may license it "
            f"meanwhile.", available_at=again)


def _next_minute(moment: datetime) -> datetime:
    """The moment rounded up to a whole minute, as the message shows it (never too early)."""
    whole = moment.replace(second=0, microsecond=0)
    return whole if whole == moment else whole + timedelta(minutes=1)
