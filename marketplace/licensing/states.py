"""The license status machine (SPEC.md "Words"): allowed moves, each one recorded."""
from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace.db import utcnow
from marketplace.errors import Conflict
from marketplace.licensing.models import License, LicenseTransition

ALLOWED = {
    None: {"pending_payment"},
    "pending_payment": {"active", "canceled"},
    "active": {"expired", "refunded", "revoked"},
    # A renewal paid after the term ran out, or a dispute won after a full reversal.
    "expired": {"active"},
    "refunded": {"active"},
    "canceled": set(),
    "revoked": set(),
}


class IllegalTransition(Conflict):
    pass


def move(session: Session, license: License, to_status: str, reason: str,
         actor_id: int | None = None) -> None:
    """Change the status and record why. :raise IllegalTransition: not an allowed move."""
    current = license.status if license.id is not None and license.status else None
    if current == to_status:
        return
    if to_status not in ALLOWED.get(current, set()):
        raise IllegalTransition(f"A {current} license can't become {to_status}.")
    license.status = to_status
    session.add(LicenseTransition(license=license, from_status=current, to_status=to_status,
                                  reason=reason[:300], at=utcnow(), actor_id=actor_id))
