"""A contributor account's identities: the Contributor rows (one per platform) it has claimed."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.accounts.models import User
from marketplace.catalog.models import Contributor
from marketplace.db import utcnow
from marketplace.errors import Conflict


def identity_ids(session: Session, user_id: int) -> list[int]:
    """The ids of the Contributor rows `user_id` has claimed (possibly none)."""
    return list(session.scalars(
        select(Contributor.id).where(Contributor.user_id == user_id).order_by(Contributor.id)))


def identities(session: Session, user_id: int) -> list[Contributor]:
    return list(session.scalars(
        select(Contributor).where(Contributor.user_id == user_id).order_by(Contributor.id)))


def link(session: Session, contributor: Contributor, user: User) -> None:
    """Attach `contributor` to `user`'s account; earnings accrued before are theirs from now.

    :raise Conflict: the identity already belongs to an account (this one included).
    """
    if contributor.user_id is not None:
        mine = contributor.user_id == user.id
        raise Conflict("This identity is already linked to your account." if mine
                       else "This identity was already claimed by another account.")
    contributor.user_id = user.id
    contributor.claimed_at = utcnow()
    session.flush()
