"""Linking an identity (a platform's Contributor row) to a person's account (the look-ups are
catalog.contributors')."""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from marketplace.accounts.models import User
from marketplace.catalog.models import Contributor
from marketplace.db import utcnow
from marketplace.errors import Conflict


def link(session: Session, contributor: Contributor, user: User) -> None:
    """Attach `contributor` to `user`'s account; earnings accrued before are theirs from now.

    :raise Conflict: the identity already belongs to an account (this one included).
    """
    if contributor.user_id is not None:
        mine = contributor.user_id == user.id
        raise Conflict("This identity is already linked to your account." if mine
                       else "This identity was already claimed by another account.")
    # Conditional, so that of two claims racing for one identity (two open codes, say) exactly
    # one links it and the other gets the conflict, never a silent reassignment.
    linked = session.execute(
        update(Contributor).where(Contributor.id == contributor.id, Contributor.user_id.is_(None))
        .values(user_id=user.id, claimed_at=utcnow())
    )
    if linked.rowcount != 1:
        raise Conflict("This identity was just claimed by another account.")
    session.refresh(contributor)
