"""What payments hands on once the processor has settled a payment: one small interface.

Payments knows PaymentIntents, refunds, disputes and the webhook inbox; what a
payment pays for is another domain's business (licensing: activate or renew the
license and allocate the payment). That domain registers a `Settlement` in
`create_app`, and payments calls it without importing it, so the dependency
points one way: licensing → payments.
"""
from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from marketplace.payments.models import Payment


class Settlement(Protocol):
    def settle(self, session: Session, payment: Payment) -> None:
        """Honour a succeeded payment once (activate, allocate), or give it back (refund_unhonoured).

        Called with the payment's lock held and no allocation made for it yet.
        """

    def money_returned(self, session: Session, payment: Payment, *, in_full: bool) -> None:
        """Refunds or disputes changed what is held back of `payment` (`in_full`: all of it)."""


_registered: dict[str, Settlement] = {}


def register(settlement: Settlement) -> None:
    _registered["settlement"] = settlement


def registered() -> Settlement:
    """:raise RuntimeError: nothing registered (create_app registers licensing's)."""
    try:
        return _registered["settlement"]
    except KeyError:
        raise RuntimeError("No settlement registered: create_app registers licensing's.") from None
